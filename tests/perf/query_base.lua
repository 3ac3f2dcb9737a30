-- query_base.lua — the base of the generated 100 000-run database
-- (bench_db.c): the quickstart's grid under its name (so the README's
-- queries run on it as written), 5 losses x 8 optimizer settings x 5 seeds =
-- 200 runs, made cheap to run and to copy: an MLP 64-64-10, one epoch.
local tb = require "trainbench"
tb.scenario {
  name = "quickstart",
  data = tb.data.digits {},
  model = tb.model.mlp { hidden = { 64 } },
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
  epochs = 1, batch_size = 64, seeds = tb.range(1, 5),
}
