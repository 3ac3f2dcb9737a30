-- A full batch of 20000 rows through a 65536-wide layer needs more
-- workspace than the limit: the error names the scenario and 'batch_size'.
local tb = require "trainbench"
tb.scenario { -- line 4
  name = "q",
  data = tb.data.blobs { n = 20000 },
  model = tb.model.mlp { hidden = { 65536 } },
  loss = "hp_loss",
  optimizer = "hp_opt",
  epochs = 1,
  batch_size = 0,
}
