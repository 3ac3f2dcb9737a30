-- A grid of something that is not a list.
local tb = require "trainbench"

local g = tb.grid(3) -- line 4
