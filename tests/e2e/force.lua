-- force.lua — 4 runs with the fingerprint test plugins fp_loss and fp_opt,
-- whose builds fp_crash and fp_hang die at the optimizer's step 20
-- (tests/plugins/fp; 6 epochs of iris are about 40 steps), for test_force.sh.
local tb = require "trainbench"
tb.scenario {
  name = "force",
  data = tb.data.iris {},
  loss = tb.grid { "fp_loss", "cross_entropy" },
  optimizer = "fp_opt",
  epochs = 6, batch_size = 16, seeds = { 1, 2 },
}
