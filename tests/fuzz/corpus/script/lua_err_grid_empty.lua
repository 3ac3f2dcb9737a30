-- An empty grid.
local tb = require "trainbench"
local g = tb.grid { 1 }
local h = tb.grid {} -- line 4
