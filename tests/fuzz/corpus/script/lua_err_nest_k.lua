-- K-sized values are checked when the data gives K (iris: 3 classes).
local tb = require "trainbench"
tb.scenario {
  name = "q", data = tb.data.iris {},
  loss = tb.loss("hp_kloss", { class_weights = { 1, 2 } }), -- line 5
  optimizer = "hp_opt", epochs = 1,
}
