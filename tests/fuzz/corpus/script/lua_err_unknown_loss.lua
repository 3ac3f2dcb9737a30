-- An unknown loss name fails at the tb.loss line, listing the loaded losses.
local tb = require "trainbench"

local data = tb.data.iris {}

local loss = tb.loss("hp_losss", { order = 2 }) -- error here (line 6)

tb.scenario { name = "q", data = data, loss = loss, optimizer = "hp_opt", epochs = 1 }
