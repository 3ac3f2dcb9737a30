-- A grid of bases with one that is not an optimizer.
local tb = require "trainbench"
local o = tb.optimizer("hp_wrap", { base = tb.grid { "hp_opt", 3 } }) -- line 3
