-- A bool hyperparameter given a number.
local tb = require "trainbench"


local l = tb.loss("hp_loss", { flag = 1 }) -- error here (line 5)
