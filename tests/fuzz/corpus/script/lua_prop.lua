-- One run with every kind of component and every type of hyperparameter,
-- for the property test: each leaf of its configuration, changed alone,
-- changes its identity.
local tb = require "trainbench"
tb.scenario {
  name = "prop",
  data = tb.data.csv { path = "small.csv", label = 1, header = false, split_seed = 3,
                       split = { train = 0.6, val = 0.2, test = 0.2 } },
  model = tb.model.mlp { hidden = { 4, 3 }, activation = "tanh", init = "he" },
  loss = tb.loss("hp_lwrap", { base = tb.loss("hp_kloss", { class_weights = { 1, 2 },
                                                            confusion = { { 1, 0 }, { 0, 1 } },
                                                            order = 2 }) }),
  optimizer = tb.optimizer("hp_wrap", { base = tb.optimizer("hp_opt", { lr = 0.2, boost = true,
                                                                        steps = 2, mode = "plain" }),
                                        mix = { slow = 0.25, fast = 0.75 }, widths = { 3 },
                                        tag = "t" }),
  schedule = tb.schedule.step { every = 2, gamma = 0.5, warmup = 0.5 },
  corruption = tb.corruption.label_noise { rate = 0.3, kind = "pair" },
  transform = tb.transform.mixup { alpha = 0.4 },
  reduction = tb.reduction.small_loss { forget = 0.1, ramp = 2 },
  epochs = 3, batch_size = 4, seeds = { 7 },
}
