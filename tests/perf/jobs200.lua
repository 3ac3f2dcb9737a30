-- jobs200.lua — the quickstart's grid made smaller: 5 losses x 8 optimizer
-- settings x 5 seeds = 200 runs of an MLP 64-128-10 on digits, 20 epochs each
-- (about 50 ms of work per run, 10-20 s at -j1), for runs/s at -j1 against
-- -j2: how well a sweep's worker processes use two cores.
local tb = require "trainbench"
tb.scenario {
  name = "jobs200",
  data = tb.data.digits {},
  model = tb.model.mlp { hidden = { 128 } },
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
  schedule = tb.schedule.cosine {},
  epochs = 20, batch_size = 64, seeds = tb.range(1, 5),
}
