-- A loss where the optimizer belongs.
local tb = require "trainbench"
local l = tb.loss("hp_loss")
tb.scenario {
  name = "q", data = tb.data.iris {}, loss = l, optimizer = l, epochs = 1,
}  -- the call starts at line 4
