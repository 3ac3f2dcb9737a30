-- A choice hyperparameter given a value that is not an option.
local tb = require "trainbench"
local ok = tb.loss("hp_loss", { reduce = "sum" })
local bad = tb.loss("hp_loss", {
  reduce = tb.grid { "mean", "median" },
}) -- the call starts at line 4
