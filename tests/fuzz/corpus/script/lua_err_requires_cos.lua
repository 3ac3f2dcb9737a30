-- A wrapped loss that needs a cosine head: checked through the wrapper.
local tb = require "trainbench"
local l = tb.loss("hp_lwrap", { base = "hp_cos" }) -- line 3
tb.scenario { name = "q", data = tb.data.iris {}, loss = l, optimizer = "hp_opt", epochs = 1 }
