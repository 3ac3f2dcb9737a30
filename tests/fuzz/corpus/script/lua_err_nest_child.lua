-- A base named by a string is validated with its defaults, at the wrapper.
local tb = require "trainbench"
local o = tb.loss("hp_lwrap", { base = "hp_lwrap", clip = 1 })
local p = tb.loss("hp_lwrap", { base = tb.loss("hp_loss", { order = 9 }) }) -- line 4
