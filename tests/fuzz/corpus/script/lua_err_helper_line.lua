-- tb.* called from a helper function of the script: the error names the
-- line inside the helper that called into trainbench. (A tail call,
-- `return tb.optimizer(...)`, would leave no frame for the helper: Lua itself
-- then knows only the helper's caller.)
local tb = require "trainbench"
local function sgd_like(hp)
  local opt = tb.optimizer("hp_opt", hp) -- line 7
  return opt
end
local a = sgd_like { lr = 0.1 }
local b = sgd_like { lr = 11 }
