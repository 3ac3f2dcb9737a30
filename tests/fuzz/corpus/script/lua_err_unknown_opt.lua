-- An unknown optimizer name given as a string inside a grid fails at the
-- line of that grid, not at the scenario's.
local tb = require "trainbench"
tb.scenario {
  name = "q",
  data = tb.data.iris {},
  loss = "hp_loss",
  optimizer = tb.grid {           -- error here (line 8)
    "hp_opt",
    "adamw",
  },
  epochs = 1,
}
