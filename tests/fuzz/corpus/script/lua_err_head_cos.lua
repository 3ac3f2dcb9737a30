-- A cosine head under a loss that would read cos theta as logits, unscaled.
local tb = require "trainbench"
tb.scenario { name = "q", data = tb.data.iris {},
  model = tb.model.mlp { hidden = { 4 }, head = "cosine" }, -- line 4
  loss = "hp_kloss", optimizer = "hp_opt", epochs = 1 }
