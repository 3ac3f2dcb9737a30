-- A matrix whose rows differ in length.
local tb = require "trainbench"
local l = tb.loss("hp_kloss", { confusion = { { 1, 0 }, { 0 } } }) -- line 3
