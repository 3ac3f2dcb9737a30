-- A value out of range in one alternative of a grid fails at the line where
-- the tb.optimizer call starts, with tb_hparams_check's message.
local tb = require "trainbench"

local opt = tb.optimizer("hp_opt", {   -- error here (line 5)
  lr = tb.grid { 0.1, 20 },
})
