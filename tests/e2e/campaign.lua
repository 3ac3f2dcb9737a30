-- campaign.lua — 30 short runs (about 2 s at -j 2) for the fault campaign
-- (test_fault_campaign.sh): long enough to be killed mid-sweep, short enough
-- to be killed 20 times.
local tb = require "trainbench"
tb.scenario {
  name = "campaign",
  data = tb.data.digits {},
  model = tb.model.mlp { hidden = { 32 } },
  loss = tb.grid { "cross_entropy", "hinge" },
  optimizer = tb.optimizer("adam", { lr = tb.grid { 0.001, 0.003, 0.01 } }),
  epochs = 100, batch_size = 64,
  seeds = { 1, 2, 3, 4, 5 },
}
