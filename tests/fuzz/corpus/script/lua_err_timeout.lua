-- A timeout must be a positive number of seconds.
local tb = require "trainbench"
tb.scenario { name = "q", data = tb.data.iris {}, loss = "hp_loss", optimizer = "hp_opt",
              epochs = 1, timeout = 0 } -- the call starts at line 3
