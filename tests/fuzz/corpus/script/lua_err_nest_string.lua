-- A string hyperparameter given a number.
local tb = require "trainbench"
local o = tb.optimizer("hp_wrap", { tag = 3 }) -- line 3
