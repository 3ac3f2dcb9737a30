-- One configuration, written tersely (see eq_b.lua and eq_c.lua).
local tb = require "trainbench"
tb.scenario {
  name = "eq",
  data = tb.data.iris {},
  loss = tb.loss("hp_loss", { order = 3, flag = false }),
  optimizer = tb.optimizer("hp_opt", { lr = 0.01, mode = "scaled", steps = 4 }),
  epochs = 5,
}
