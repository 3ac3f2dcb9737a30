-- A scenario given a dataset where the schedule belongs.
local tb = require "trainbench"
tb.scenario { name = "q", data = tb.data.iris {}, loss = "hp_loss", optimizer = "hp_opt",
              schedule = tb.data.iris {}, epochs = 1 } -- the call starts at line 3
