-- Seeds as a list and as a range, the default seed, and duplicates: a
-- repeated seed and hyperparameters equal to the defaults resolve to the same
-- configuration and run once.
local tb = require "trainbench"
local helper = require "lua_helper"  -- tests/lua/lua_helper.lua, beside this script

local base = { data = helper.iris(), loss = "hp_loss", optimizer = "hp_opt", epochs = 1 }
local function scenario(name, extra)
  local s = { name = name }
  for k, v in pairs(base) do s[k] = v end
  for k, v in pairs(extra) do s[k] = v end
  tb.scenario(s)
end

scenario("list", { seeds = { 5, 3, 5 } })
scenario("range", { seeds = tb.range(10, 1, -4) })
scenario("default", {})
scenario("dupes", {
  loss = tb.grid { "hp_loss", tb.loss("hp_loss", { order = 2 }),
                   tb.loss("hp_loss", { weight = tb.grid { 1, 2 } }) },
})
