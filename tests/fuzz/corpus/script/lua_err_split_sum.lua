-- Split fractions that do not sum to 1 (in one alternative of a grid).
local tb = require "trainbench"
local ok = tb.data.iris { split = { train = 0.7, val = 0.3 } }
local d = tb.data.iris {
  split = tb.grid { { train = 0.5, val = 0.5 }, { train = 0.6, val = 0.3, test = 0.2 } },
}  -- the call starts at line 4
