-- kill.lua — 24 runs (a few seconds in all) for the kill -9 test.
local tb = require "trainbench"
tb.scenario {
  name = "kill",
  data = tb.data.digits {},
  model = tb.model.mlp { hidden = { 128 } },
  loss = tb.grid { "cross_entropy", "hinge" },
  optimizer = tb.optimizer("adam", { lr = tb.grid { 0.001, 0.003, 0.01 } }),
  epochs = 80, batch_size = 32, seeds = { 1, 2, 3, 4 },
}
