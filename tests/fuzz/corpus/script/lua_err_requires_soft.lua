-- A loss that needs soft targets, which no scenario makes yet.
local tb = require "trainbench"
tb.scenario {
  name = "q", data = tb.data.iris {},
  loss = "hp_soft", -- the scenario (line 3) names it
  optimizer = "hp_opt", epochs = 1,
}
