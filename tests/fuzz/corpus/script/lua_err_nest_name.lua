-- A base named wrong: the path names the wrapper and the key.
local tb = require "trainbench"
local o = tb.optimizer("hp_wrap", {
  base = "hp_optt", -- the call starts at line 3
})
