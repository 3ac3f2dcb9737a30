-- A record with a field it does not have.
local tb = require "trainbench"
local o = tb.optimizer("hp_wrap", { mix = { slow = 0.5, quick = 0.5 } }) -- line 3
