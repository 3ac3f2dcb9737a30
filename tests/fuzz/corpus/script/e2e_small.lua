-- small.lua — a quick sweep for the end-to-end tests:
-- 2 losses x 2 optimizers x 2 seeds = 8 runs on iris.
local tb = require "trainbench"
tb.scenario {
  name = "small",
  data = tb.data.iris { split = { train = 0.6, val = 0.2, test = 0.2 } },
  model = tb.model.mlp { hidden = { 16 }, activation = "tanh" },
  loss = tb.grid { "cross_entropy", "brier" },
  optimizer = tb.grid { tb.optimizer("sgd", { lr = 0.1, momentum = 0.9 }), tb.optimizer("adam", { lr = 0.01 }) },
  schedule = tb.schedule.step { every = 3, gamma = 0.5 },
  epochs = 6, batch_size = 16, seeds = { 1, 2 },
}
