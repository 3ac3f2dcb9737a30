-- Blobs whose n x dim is past the limit of values in a dataset (and past
-- int range) fail at the tb.data.blobs line, before anything is generated.
local tb = require "trainbench"
local d = tb.data.blobs { n = 100000, dim = 30000 } -- line 4
