-- An unknown hyperparameter fails at the tb.optimizer line.
local tb = require "trainbench"

local sgd_like = tb.optimizer("hp_opt", { lr = 0.1, mom = 0.9 }) -- error here (line 4)
