-- The quickstart of the documentation, with the real plugins: loss
-- alternatives {cross_entropy, focal gamma=1, focal gamma=2} x optimizer
-- alternatives {sgd x 3 lr, adam x 3 lr} x 3 seeds = 54 runs.
local tb = require "trainbench"
tb.scenario {
  name = "quickstart",
  data = tb.data.digits { split = { train = 0.6, val = 0.2, test = 0.2 } },
  model = tb.model.mlp { hidden = { 128 }, activation = "relu" },
  loss = tb.grid { "cross_entropy", tb.loss("focal", { gamma = tb.grid { 1, 2 } }) },
  optimizer = tb.grid { tb.optimizer("sgd", { lr = tb.logspace(-2, 0, 3), momentum = 0.9 }),
                        tb.optimizer("adam", { lr = tb.logspace(-4, -2, 3) }) },
  schedule = tb.schedule.cosine { warmup = 2 },
  epochs = 20, batch_size = 64, seeds = tb.range(1, 3),
}
