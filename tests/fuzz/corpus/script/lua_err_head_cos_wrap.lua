-- A cosine head under a wrapper whose base does not read cos theta either.
local tb = require "trainbench"
local m = tb.model.linear { head = "cosine" } -- line 3
tb.scenario { name = "q", data = tb.data.iris {}, model = m,
  loss = tb.loss("hp_lwrap", { base = "hp_kloss" }), optimizer = "hp_opt", epochs = 1 }
