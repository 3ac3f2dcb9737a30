-- Datasets are loaded once per script whatever the number of runs,
-- scenarios and splits that use them: 3 here (small.csv, iris, blobs).
local tb = require "trainbench"
for _, name in ipairs { "a", "b" } do
  tb.scenario {
    name = name,
    data = tb.grid { tb.data.csv { path = "small.csv", header = false, label = 1 },
                     tb.data.csv { path = "small.csv", header = false, label = 1,
                                   split = { train = 0.5, test = 0.5 }, standardize = false },
                     tb.data.iris {},
                     tb.data.blobs { n = 60 } },
    loss = "hp_loss",
    optimizer = "hp_opt",
    epochs = 1,
    seeds = { 1, 2 },
  }
end
