-- An int hyperparameter given a fraction.
local tb = require "trainbench"
local a = tb.loss("hp_loss", { order = 2 })
local b = tb.loss("hp_loss", { order = 2.5 }) -- error here (line 4)
