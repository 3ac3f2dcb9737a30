-- The configurations of eq_nest_a.lua with every default written out,
-- numbers spelt otherwise, a base given as an object, the schedule called.
local tb = require "trainbench"
tb.scenario {
  name = "eqn",
  data = tb.data.blobs { n = 600, classes = 3.0, split = { train = 0.6, val = 0.2, test = 0.2 },
                         standardize = true },
  model = tb.model.mlp { hidden = { 8.0 }, activation = "relu", init = "default" },
  loss = tb.loss("hp_kloss", { class_weights = {}, order = 1 }),
  optimizer = tb.optimizer("hp_wrap", { base = tb.optimizer("hp_opt", { lr = 1e-1, steps = 1 }),
                                        mix = { slow = 0.5, fast = 5e-1 }, widths = { 2.0 },
                                        tag = "none", every = 5 }),
  schedule = tb.schedule("cosine", { warmup = 1.0, min_factor = 0 }),
  epochs = 1,
}
tb.scenario { name = "eqn2", data = tb.data.iris {}, loss = tb.loss("hp_loss", {}),
              optimizer = tb.optimizer("hp_wrap", { base = tb.optimizer("hp_opt") }),
              schedule = tb.schedule.constant {}, model = tb.model("linear", {}), epochs = 1 }
