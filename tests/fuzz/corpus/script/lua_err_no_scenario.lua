-- A script that declares nothing to run.
local tb = require "trainbench"
local d = tb.data.iris {}
