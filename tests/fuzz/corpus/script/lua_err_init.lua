-- An unknown initialization.
local tb = require "trainbench"


local m = tb.model.linear { init = "xavier" } -- line 5
