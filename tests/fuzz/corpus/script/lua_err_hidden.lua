-- hidden must be a list of widths.
local tb = require "trainbench"
local ok = tb.model.mlp { hidden = { 8, 8 } }
local m = tb.model.mlp { hidden = 64 } -- line 4
