-- An unknown schedule fails at the line that names it.
local tb = require "trainbench"
local ok = tb.schedule.step { every = 10 }
local s = tb.schedule.onecycle { warmup = 1 } -- line 4
