-- A list element out of range.
local tb = require "trainbench"
local ok = tb.optimizer("hp_wrap", { widths = { 1, 8 } })
local o = tb.optimizer("hp_wrap", { base = "hp_opt", widths = { 1, 9 } }) -- line 4
