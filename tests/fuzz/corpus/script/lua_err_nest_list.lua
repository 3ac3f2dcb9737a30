-- A list with a text in it.
local tb = require "trainbench"
local o = tb.optimizer("hp_wrap", { widths = { 1, "a" } }) -- line 3
