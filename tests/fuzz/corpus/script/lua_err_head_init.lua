-- A cosine head whose weight rows would start at zero.
local tb = require "trainbench"
local m = tb.model.mlp { hidden = { 4 }, init = "zeros", head = "cosine" } -- line 3
tb.scenario { name = "q", data = tb.data.iris {}, model = m, loss = "hp_cos",
  optimizer = "hp_opt", epochs = 1 }
