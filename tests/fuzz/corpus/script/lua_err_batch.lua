-- A negative batch size.
local tb = require "trainbench"
tb.scenario { name = "q", data = tb.data.iris {}, loss = "hp_loss", optimizer = "hp_opt",
              epochs = 1, batch_size = -1 } -- the call starts at line 3
