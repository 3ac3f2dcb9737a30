-- Fewer points than classes.
local tb = require "trainbench"

local d = tb.data.blobs { n = 2, classes = 3 } -- line 4
