-- A CSV file that does not exist fails at the tb.data.csv line.
local tb = require "trainbench"
local ok = tb.data.csv { path = "small.csv" }

local d = tb.data.csv { path = "no_such_file.csv" } -- line 5
