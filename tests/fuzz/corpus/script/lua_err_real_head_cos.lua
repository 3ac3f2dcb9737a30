-- With the real plugins: cross_entropy would train on a cosine head's
-- cos theta in [-1, 1] as logits, unscaled; the loader refuses it.
local tb = require "trainbench"
tb.scenario {
  name = "q",
  data = tb.data.iris {},
  model = tb.model.mlp { hidden = { 8 }, head = "cosine" }, -- line 7
  loss = "cross_entropy",
  optimizer = "sgd",
  epochs = 1,
}
