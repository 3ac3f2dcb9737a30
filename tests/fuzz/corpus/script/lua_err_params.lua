-- Widths within the limit whose parameter count, once the data gives D and
-- K, is past the limit: the error names the tb.model.mlp line.
local tb = require "trainbench"
local wide = tb.model.mlp { hidden = { 65536, 65536 } } -- line 4
tb.scenario {
  name = "q",
  data = tb.data.iris {},
  model = tb.grid { tb.model.mlp { hidden = { 8 } }, wide },
  loss = "hp_loss",
  optimizer = "hp_opt",
  epochs = 1,
}
