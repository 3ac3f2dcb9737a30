-- With the real plugins: a misspelt sgd hyperparameter.
local tb = require "trainbench"

local ok = tb.optimizer("sgd", { lr = 0.1, momentum = 0.9 })
local o = tb.optimizer("sgd", { lr = 0.1, mom = 0.9 }) -- line 5
