-- Nested components written tersely (see eq_nest_b.lua).
local tb = require "trainbench"
tb.scenario {
  name = "eqn",
  data = tb.data.blobs {},
  model = tb.model.mlp { hidden = { 8 } },
  loss = "hp_kloss",
  optimizer = tb.optimizer("hp_wrap", { base = "hp_opt" }),
  schedule = tb.schedule.cosine { warmup = 1 },
  epochs = 1,
}
tb.scenario { name = "eqn2", data = tb.data.iris {}, loss = "hp_loss", optimizer = "hp_wrap",
              epochs = 1 }
