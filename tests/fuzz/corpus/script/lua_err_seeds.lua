-- A bare number for seeds is ambiguous (one seed, or that many?): refused.
local tb = require "trainbench"
tb.scenario {
  name = "q", data = tb.data.iris {}, loss = "hp_loss", optimizer = "hp_opt", epochs = 1,
  seeds = 3,
}  -- the call starts at line 3
