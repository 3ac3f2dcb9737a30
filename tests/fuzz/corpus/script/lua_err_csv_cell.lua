-- A bad cell in a CSV file: found when the script is loaded, named by the
-- script line of its tb.data.csv call and by file:line:column and field.
local tb = require "trainbench"
local d = tb.data.csv { path = "bad_cell.csv" } -- line 4
tb.scenario {
  name = "q",
  data = d,
  loss = "hp_loss",
  optimizer = "hp_opt",
  epochs = 1,
}
