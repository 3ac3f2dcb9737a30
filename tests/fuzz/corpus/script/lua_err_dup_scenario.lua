-- Two scenarios with one name.
local tb = require "trainbench"
tb.scenario { name = "q", data = tb.data.iris {}, loss = "hp_loss", optimizer = "hp_opt", epochs = 1 }
tb.scenario { name = "r", data = tb.data.iris {}, loss = "hp_loss", optimizer = "hp_opt", epochs = 1 }
tb.scenario { name = "q", data = tb.data.wine {}, loss = "hp_loss", optimizer = "hp_opt", epochs = 1 }
