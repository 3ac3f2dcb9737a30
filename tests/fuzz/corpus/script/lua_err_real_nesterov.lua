-- With the real plugins: sgd's validate hook refuses Nesterov without momentum.
local tb = require "trainbench"
tb.scenario {
  name = "q",
  data = tb.data.iris {},
  loss = "cross_entropy",
  optimizer = tb.optimizer("sgd", { lr = 0.1, nesterov = true }), -- line 7
  epochs = 1,
}
