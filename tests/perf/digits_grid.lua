-- digits_grid.lua — the digits grid of issue 9: 18 runs (3 learning rates x
-- 6 seeds) of an MLP 64-128-10 under cross-entropy and Adam, batch 64, 30
-- epochs, every split evaluated before training and after each epoch. The
-- PyTorch baseline (torch_digits.py) trains the same grid.
local tb = require "trainbench"
tb.scenario {
  name = "digits_grid",
  data = tb.data.digits {},
  model = tb.model.mlp { hidden = { 128 } },
  loss = "cross_entropy",
  optimizer = tb.optimizer("adam", { lr = tb.grid { 0.0003, 0.001, 0.003 } }),
  epochs = 30, batch_size = 64, seeds = tb.range(1, 6),
}
