-- A logspace with no points.
local tb = require "trainbench"
local ok = tb.logspace(-3, -1, 3)
local o = tb.optimizer("hp_opt", {
  lr = tb.logspace(-3, -1, 0), -- line 5
})
