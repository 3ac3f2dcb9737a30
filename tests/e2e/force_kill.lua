-- force_kill.lua — 24 runs in two scenarios (a few seconds in all) for the
-- interrupted `run --force` part of test_force.sh.
local tb = require "trainbench"
for _, loss in ipairs { "cross_entropy", "hinge" } do
  tb.scenario {
    name = "force_" .. loss,
    data = tb.data.digits {},
    model = tb.model.mlp { hidden = { 128 } },
    loss = loss,
    optimizer = tb.optimizer("adam", { lr = tb.grid { 0.001, 0.003, 0.01 } }),
    epochs = 80, batch_size = 32, seeds = { 1, 2, 3, 4 },
  }
end
