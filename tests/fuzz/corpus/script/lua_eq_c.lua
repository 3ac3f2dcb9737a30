-- eq_a.lua with a learning rate one ulp above 0.01: a different configuration.
local tb = require "trainbench"
tb.scenario {
  name = "eq",
  data = tb.data.iris {},
  loss = tb.loss("hp_loss", { order = 3, flag = false }),
  optimizer = tb.optimizer("hp_opt", { lr = 0.010000000000000002, mode = "scaled", steps = 4 }),
  epochs = 5,
}
