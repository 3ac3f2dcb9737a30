-- A misspelt schedule key.
local tb = require "trainbench"
local s = tb.schedule.cosine { warmpu = 1 } -- line 3
