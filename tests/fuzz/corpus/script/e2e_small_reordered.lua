-- small_reordered.lua — small.lua with every grid, key and hyperparameter
-- written in another order and defaults spelled out: the same 8 runs.
local tb = require "trainbench"
tb.scenario {
  seeds = { 2, 1 }, batch_size = 16, epochs = 6,
  schedule = tb.schedule.step { gamma = 0.5, every = 3, warmup = 0 },
  optimizer = tb.grid { tb.optimizer("adam", { lr = 0.01, beta1 = 0.9 }), tb.optimizer("sgd", { momentum = 0.9, lr = 0.1 }) },
  loss = tb.grid { "brier", tb.loss("cross_entropy", { label_smoothing = 0 }) },
  model = tb.model.mlp { activation = "tanh", hidden = { 16 }, init = "default" },
  data = tb.data.iris { split = { test = 0.2, val = 0.2, train = 0.6 }, standardize = true },
  name = "small",
}
