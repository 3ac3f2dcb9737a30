-- The step schedule needs 'every'.
local tb = require "trainbench"
local s = tb.schedule.step { gamma = 0.5 } -- line 3
