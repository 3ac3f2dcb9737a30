-- shard.lua — the sweep the shard and merge tests split: 2 losses x 2
-- optimizers x 3 seeds = 12 runs on iris, a few milliseconds each.
local tb = require "trainbench"
tb.scenario {
  name = "shard",
  data = tb.data.iris { split = { train = 0.6, val = 0.2, test = 0.2 } },
  model = tb.model.mlp { hidden = { 8 }, activation = "tanh" },
  loss = tb.grid { "cross_entropy", "brier" },
  optimizer = tb.grid { tb.optimizer("sgd", { lr = 0.1, momentum = 0.9 }), tb.optimizer("adam", { lr = 0.01 }) },
  epochs = 4, batch_size = 16, seeds = { 1, 2, 3 },
}
