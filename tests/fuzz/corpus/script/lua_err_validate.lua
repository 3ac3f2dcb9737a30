-- The optimizer's validate hook rejects a combination: its message surfaces
-- with the tb.optimizer line.
local tb = require "trainbench"
local fine = tb.optimizer("hp_opt", { boost = true, steps = 2 })
local bad = tb.optimizer("hp_opt", { boost = true }) -- error here (line 5)
