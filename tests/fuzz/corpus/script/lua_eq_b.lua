-- The configuration of eq_a.lua written another way: keys in another order,
-- defaults written out, 3.0 for 3, a one-point logspace for 0.01, and a
-- timeout (not part of the configuration). Same JSON, same hash.
local tb = require "trainbench"
tb.scenario {
  timeout = 60,
  epochs = 5.0,
  optimizer = tb.optimizer("hp_opt", { steps = 4, momentum = 0, lr = tb.logspace(-2, -2, 1) }),
  loss = tb.loss("hp_loss", { weight = 1, reduce = "mean", flag = false, order = 3.0 }),
  seeds = { 1 },
  batch_size = 32,
  model = tb.model.linear { init = "default" },
  schedule = tb.schedule.constant { warmup = 0 },
  data = tb.data.iris { standardize = true, split = { test = 0.2, val = 0.2, train = 0.6 } },
  name = "eq",
}
