-- quickstart.lua — the sweep the README's first command runs (about half a minute
-- on 2 cores): 5 losses x 8 optimizer settings x 5 seeds = 200 runs on the
-- digits data set (1797 8x8 images, 10 classes) with a one-hidden-layer MLP.
-- Every loss and optimizer of a seed sees the same split, initial weights and
-- batches, so the comparison is paired.
local tb = require "trainbench"

tb.scenario {
  name = "quickstart",
  data = tb.data.digits { split = { train = 0.6, val = 0.2, test = 0.2 } },
  model = tb.model.mlp { hidden = { 256 }, activation = "relu" },
  loss = tb.grid {
    "cross_entropy",
    tb.loss("focal", { gamma = tb.grid { 1, 2 } }),
    "brier",
    "hinge",
  },
  optimizer = tb.grid {
    tb.optimizer("sgd", { lr = tb.logspace(-2, 0, 4), momentum = 0.9 }),
    tb.optimizer("adam", { lr = tb.logspace(-4, -2, 4) }),
  },
  schedule = tb.schedule.cosine { warmup = 2 },
  epochs = 30, batch_size = 64, seeds = tb.range(1, 5),
}
