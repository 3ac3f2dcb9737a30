-- Sample ids are always provided.
local tb = require "trainbench"
tb.scenario { name = "q", data = tb.data.iris {}, loss = "hp_ids", optimizer = "hp_opt", epochs = 1 }
