-- Axes at every depth: the dataset itself, a split, a dataset parameter, one
-- width of `hidden`, an activation, a whole hyperparameter table, a
-- hyperparameter inside one of its alternatives, and nested grids.
local tb = require "trainbench"

tb.scenario {
  name = "depth",
  data = tb.grid {
    tb.data.iris { split = tb.grid { { train = 0.5, val = 0.25, test = 0.25 }, { train = 1 } } },
    tb.data.blobs { n = tb.range(100, 300, 100), classes = 4 },
  },
  model = tb.model.mlp { hidden = { tb.grid { 16, 32 }, 8 }, activation = tb.grid { "tanh", "gelu" } },
  loss = tb.loss("hp_loss", tb.grid { { flag = true, reduce = "max" },
                                      { weight = tb.linspace(1, 2, 3) } }),
  optimizer = "hp_opt",
  epochs = tb.grid { 1, 2 },
  batch_size = 0,
}

-- Grids inside grids flatten in order; a seed list may hold grids too.
tb.scenario {
  name = "nested",
  data = tb.data.wine {},
  loss = tb.grid { tb.grid { "hp_loss" }, tb.grid { tb.grid { tb.loss("hp_loss", { order = 7 }) } } },
  optimizer = tb.optimizer("hp_opt", { steps = tb.grid { 1, tb.grid { 2, tb.range(3, 4) } } }),
  epochs = 1,
  seeds = { 9, tb.grid { 8, tb.range(7, 6, -1) } },
}
