-- An unknown activation.
local tb = require "trainbench"
local m = tb.model.mlp { hidden = { 8 }, activation = "relu" }
local m2 = tb.model.mlp { hidden = { 8 },
                          activation = "sigmoid" } -- the call starts at line 4
