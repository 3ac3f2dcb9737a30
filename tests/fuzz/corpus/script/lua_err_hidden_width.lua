-- A layer wider than the limit fails at the tb.model.mlp line (the issue's
-- case: 2^31 - 1 units used to crash the worker with a signed overflow).
local tb = require "trainbench"
local m = tb.model.mlp { hidden = { 16, 2^31 - 1 } } -- line 4
