-- fp.lua — 4 runs with the fingerprint test plugins fp_loss and fp_opt
-- (tests/plugins/fp/fp_variant.c), for the stale-plugin test.
local tb = require "trainbench"
tb.scenario {
  name = "fp",
  data = tb.data.iris {},
  loss = tb.grid { "fp_loss", "cross_entropy" },
  optimizer = "fp_opt",
  epochs = 2, batch_size = 16, seeds = { 1, 2 },
}
