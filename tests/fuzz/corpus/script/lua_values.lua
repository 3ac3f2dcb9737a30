-- Resolved values: every hyperparameter type, defaults filled in, a CSV file
-- named relative to this script, a step schedule, the default model.
local tb = require "trainbench"

tb.scenario {
  name = "values",
  data = tb.data.csv { path = "small.csv", label = 1, header = false, standardize = false,
                       split = { train = 0.8, test = 0.2 }, split_seed = 7 },
  loss = tb.loss("hp_loss", { flag = true, reduce = "sum", order = 5.0 }),
  optimizer = tb.optimizer("hp_opt", { steps = 3, boost = true }),
  schedule = tb.schedule.step { every = 2.5 },
  epochs = 3,
  timeout = 1.5,
}

tb.scenario {
  name = "blobs",
  data = tb.data.blobs {},
  loss = "hp_loss",
  optimizer = "hp_opt",
  epochs = 1,
}
