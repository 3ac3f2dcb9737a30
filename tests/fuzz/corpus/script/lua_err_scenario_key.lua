-- A misspelt scenario key.
local tb = require "trainbench"
local data = tb.data.iris {}
tb.scenario {                           -- error here (line 4)
  name = "q",
  data = data,
  loss = "hp_loss",
  optimizer = "hp_opt",
  epoch = 3,
}
