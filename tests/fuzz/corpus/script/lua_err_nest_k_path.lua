-- A K-aware validate hook inside a wrapper: the message names the path.
local tb = require "trainbench"
local inner = tb.loss("hp_kloss", { order = 5 })
local outer = tb.loss("hp_lwrap", { base = inner }) -- line 4
tb.scenario { name = "q", data = tb.data.iris {}, loss = outer, optimizer = "hp_opt", epochs = 1 }
