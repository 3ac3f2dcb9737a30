-- A plain table is a value, not a list of alternatives.
local tb = require "trainbench"
local o = tb.optimizer("hp_opt", { lr = { 0.1, 0.01 } }) -- line 3
