-- A cosine head with losses that declare TB_REQ_COSINE_HEAD: hp_cos itself,
-- and a wrapper over it (the base owns the scale).
local tb = require "trainbench"
tb.scenario {
  name = "q", data = tb.data.iris {},
  model = tb.grid { tb.model.linear { head = "cosine" },
                    tb.model.mlp { hidden = { 4 }, head = "cosine" } },
  loss = tb.grid { "hp_cos", tb.loss("hp_lwrap", { base = "hp_cos" }) },
  optimizer = "hp_opt", epochs = 1,
}
