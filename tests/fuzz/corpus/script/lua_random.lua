-- Values drawn with math.random: the script expands the same way every time.
local tb = require "trainbench"
local lrs = {}
for i = 1, 4 do lrs[i] = 10 ^ (-4 + 3 * math.random()) end
tb.scenario {
  name = "random",
  data = tb.data.iris {},
  loss = "hp_loss",
  optimizer = tb.optimizer("hp_opt", { lr = tb.grid(lrs) }),
  epochs = 1,
}
