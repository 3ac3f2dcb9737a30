-- A misspelt split fraction.
local tb = require "trainbench"
local d = tb.data.wine { split = { train = 0.8, tset = 0.2 } } -- line 3
