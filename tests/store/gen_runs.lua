-- gen_runs.lua — the real sweep gen_runs.sh replicates: the quickstart grid (5 losses x 8
-- optimizer settings x 5 seeds = 200 runs), 2 epochs of a small MLP.
local tb = require "trainbench"
tb.scenario {
  name = "gen",
  data = tb.data.digits { split = { train = 0.6, val = 0.2, test = 0.2 } },
  model = tb.model.mlp { hidden = { 32 }, activation = "relu" },
  loss = tb.grid { "cross_entropy", tb.loss("focal", { gamma = tb.grid { 1, 2 } }), "brier", "hinge" },
  optimizer = tb.grid {
    tb.optimizer("sgd", { lr = tb.logspace(-2, 0, 4), momentum = 0.9 }),
    tb.optimizer("adam", { lr = tb.logspace(-4, -2, 4) }),
  },
  schedule = tb.schedule.cosine { warmup = 1 },
  epochs = 2, batch_size = 64, seeds = tb.range(1, 5),
}
