-- The loss's validate hook rejects one alternative of a grid.
local tb = require "trainbench"

tb.scenario {
  name = "q",
  data = tb.data.iris {},
  loss = tb.loss("hp_loss", { reduce = "max", flag = tb.grid { true, false } }), -- line 7
  optimizer = "hp_opt",
  epochs = 1,
}
