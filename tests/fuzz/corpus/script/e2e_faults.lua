-- faults.lua — runs whose plugins misbehave on purpose (tests/plugins/faulty.c),
-- beside one healthy run. Each must be recorded and the sweep must go on.
local tb = require "trainbench"
tb.scenario {
  name = "faults",
  data = tb.data.iris {},
  model = tb.model.linear {},
  loss = "cross_entropy",
  optimizer = tb.grid { "sgd", "fault_segv", "fault_abort", "fault_exit0", "fault_hang", "fault_garbage", "fault_rng" },
  epochs = 3, batch_size = 16, seeds = { 1 },
}
tb.scenario {
  name = "diverge",
  data = tb.data.iris {},
  loss = "fault_nan",
  optimizer = "sgd",
  epochs = 3, batch_size = 16,
}
