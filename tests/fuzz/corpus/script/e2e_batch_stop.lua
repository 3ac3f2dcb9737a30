-- batch_stop.lua — a run that ends at once beside one that would train for
-- hours (tests/e2e/test_batch.sh stops the sweep between the two).
local tb = require "trainbench"
tb.scenario {
  name = "quick",
  data = tb.data.iris {},
  loss = "cross_entropy",
  optimizer = "sgd",
  epochs = 1,
}
tb.scenario {
  name = "long",
  data = tb.data.iris {},
  loss = "cross_entropy",
  optimizer = "sgd",
  epochs = 100000000, batch_size = 1,
}
