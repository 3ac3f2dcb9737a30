#!/usr/bin/env trainbench run
-- A #! line is skipped and the line numbers still count it.
local tb = require "trainbench"
local d = tb.data.iris { standardize = "yes" } -- line 4
