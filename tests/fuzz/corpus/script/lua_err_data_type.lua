-- A model where the dataset belongs.
local tb = require "trainbench"
local m = tb.model.linear {}
tb.scenario { name = "q", data = m, loss = "hp_loss", optimizer = "hp_opt", epochs = 1 } -- line 4
