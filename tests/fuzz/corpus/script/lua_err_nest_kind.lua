-- A loss where the base optimizer belongs.
local tb = require "trainbench"
local l = tb.loss("hp_loss")
local o = tb.optimizer("hp_wrap", { base = l }) -- line 4
