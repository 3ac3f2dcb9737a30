-- A misspelt dataset key.
local tb = require "trainbench"

local d = tb.data.digits { splt = { train = 0.5, val = 0.5 } } -- line 4
