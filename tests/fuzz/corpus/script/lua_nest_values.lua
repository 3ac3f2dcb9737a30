-- Components inside components and every hyperparameter type: a wrapper
-- optimizer whose base is a grid of settings, a record, a list, a string; a
-- loss with K-sized values; a grid of lists; the schedule called as a function.
local tb = require "trainbench"
tb.scenario {
  name = "nest",
  data = tb.data.blobs { n = 60, classes = 3, split = { train = 0.5, val = 0.25, test = 0.25 } },
  model = tb.model.mlp { hidden = tb.grid { { 4 }, { 8, 4 } } },
  loss = tb.loss("hp_kloss", { class_weights = { 1, 2, 3 },
                               confusion = { { 1, 0, 0 }, { 0, 1, 0 }, { 0, 0.5, 0.5 } },
                               order = 2 }),
  optimizer = tb.optimizer("hp_wrap", { base = tb.optimizer("hp_opt", { lr = tb.grid { 0.1, 0.2 } }),
                                        mix = { slow = 0.25, fast = 0.75 }, widths = { 1, 2 },
                                        tag = "x" }),
  schedule = tb.schedule("linear", { end_factor = 0.1 }),
  epochs = 2,
}
