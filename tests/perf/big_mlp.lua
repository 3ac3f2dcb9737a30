-- big_mlp.lua — the larger MLP of issue 9: 784-512-512-10 on synthetic data
-- (6000 Gaussian blobs rows of 784 features, 10 classes), batch 256, 3
-- epochs, 2 seeds. Its matrix products are large enough that the floor is
-- OpenBLAS at full speed.
local tb = require "trainbench"
tb.scenario {
  name = "big_mlp",
  data = tb.data.blobs { n = 6000, classes = 10, dim = 784 },
  model = tb.model.mlp { hidden = { 512, 512 } },
  loss = "cross_entropy",
  optimizer = tb.optimizer("adam", { lr = 0.001 }),
  epochs = 3, batch_size = 256, seeds = { 1, 2 },
}
