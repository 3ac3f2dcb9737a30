-- A record field left out is 0; the validate hook sees the whole.
local tb = require "trainbench"
local o = tb.optimizer("hp_wrap", { mix = { slow = 0.5 } }) -- line 3
