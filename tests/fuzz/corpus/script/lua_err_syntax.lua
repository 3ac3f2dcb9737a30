-- A syntax error: Lua's own message.
local tb = require "trainbench"
tb.scenario {
  name = "q"
  data = tb.data.iris {}, -- line 5: '}' expected near 'data'
}
