-- An empty range.
local tb = require "trainbench"
local r = tb.range(1, 3)
local s = tb.range(5, 1) -- line 4
