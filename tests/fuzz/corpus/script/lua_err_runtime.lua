-- A runtime error in a function of the script: Lua's message, with the line
-- where it happened.
local tb = require "trainbench"
local function build()
  return tb.scenario {
    name = undefined_function(), -- line 6
  }
end
build()
