-- A component whose default base is itself: refused, not followed forever.
local tb = require "trainbench"
local l = tb.loss("hp_self") -- line 3
