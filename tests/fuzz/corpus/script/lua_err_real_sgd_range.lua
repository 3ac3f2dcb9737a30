-- With the real plugins: sgd's learning rate out of range.
local tb = require "trainbench"
local o = tb.optimizer("sgd", {
  lr = tb.logspace(0, 2, 3),  -- 1, 10, 100: the last is out of range
})  -- the call starts at line 3
