-- The quickstart's shape with the test plugin (tests/lua/hptypes.c):
-- 3 losses x 6 optimizers x 3 seeds = 54 runs.
local tb = require "trainbench"

tb.scenario {
  name = "quickstart",
  data = tb.data.digits { split = { train = 0.6, val = 0.2, test = 0.2 } },
  model = tb.model.mlp { hidden = { 128 }, activation = "relu" },
  loss = tb.grid { "hp_loss", tb.loss("hp_loss", { order = tb.grid { 1, 3 } }) },
  optimizer = tb.grid { tb.optimizer("hp_opt", { lr = tb.logspace(-2, 0, 3), momentum = 0.9 }),
                        tb.optimizer("hp_opt", { lr = tb.logspace(-4, -2, 3), mode = "plain" }) },
  schedule = tb.schedule.cosine { warmup = 2 },
  epochs = 20, batch_size = 64, seeds = tb.range(1, 3),
}
