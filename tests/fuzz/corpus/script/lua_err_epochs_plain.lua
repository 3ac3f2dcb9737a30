-- A bad epochs value written directly fails at the scenario's line.
local tb = require "trainbench"

tb.scenario { name = "q", data = tb.data.iris {}, loss = "hp_loss", optimizer = "hp_opt",
              epochs = 0 }  -- the call starts at line 4
