-- batch.lua — 120 runs of a few milliseconds each, so that many of them end
-- within one commit window (tests/e2e/test_batch.sh).
local tb = require "trainbench"
tb.scenario {
  name = "batch",
  data = tb.data.digits {},
  loss = tb.grid { "cross_entropy", "hinge" },
  optimizer = tb.optimizer("adam", { lr = tb.grid { 0.001, 0.002, 0.003, 0.005, 0.01, 0.02 } }),
  epochs = 3, batch_size = 64, seeds = tb.range(1, 10),
}
