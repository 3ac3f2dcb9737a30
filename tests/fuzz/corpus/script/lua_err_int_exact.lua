-- An integer a double cannot hold exactly is refused, not rounded.
local tb = require "trainbench"
local d = tb.data.iris { split_seed = 9007199254740993 } -- line 3
