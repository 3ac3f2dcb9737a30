-- An unknown dataset.
local tb = require "trainbench"

local d = tb.data.mnist { } -- line 4
