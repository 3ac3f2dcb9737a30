-- tiny.lua — 20 one-epoch runs of ~20 ms of work each, for the sweep-overhead
-- benchmark: what a sweep costs around the runs themselves.
local tb = require "trainbench"
tb.scenario {
  name = "tiny",
  data = tb.data.digits {},
  model = tb.model.mlp { hidden = { 64 } },
  loss = "cross_entropy",
  optimizer = tb.optimizer("adam", { lr = tb.grid { 0.001, 0.003, 0.01, 0.03 } }),
  epochs = 1, batch_size = 64, seeds = tb.range(1, 5),
}
