-- A bad epochs value inside a grid fails at the grid's line.
local tb = require "trainbench"
tb.scenario {
  name = "q",
  data = tb.data.iris {},
  loss = "hp_loss",
  optimizer = "hp_opt",
  epochs = tb.grid { 1,
                     0 },  -- the grid starts at line 8
}
