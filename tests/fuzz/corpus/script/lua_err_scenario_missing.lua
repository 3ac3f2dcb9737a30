-- A scenario without a loss.
local tb = require "trainbench"

tb.scenario { name = "ok", data = tb.data.iris {}, loss = "hp_loss", optimizer = "hp_opt", epochs = 1 }

tb.scenario { name = "q", data = tb.data.iris {}, optimizer = "hp_opt", epochs = 1 } -- line 6
