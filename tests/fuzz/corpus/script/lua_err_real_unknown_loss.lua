-- With the real plugins: a misspelt loss.
local tb = require "trainbench"
local ok = tb.loss("focal", { gamma = 1 })
local l = tb.loss("focall", { gamma = 1 }) -- line 4
