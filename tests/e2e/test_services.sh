#!/bin/sh
# Host services for optimizers, through a test plugin that checks them from
# inside `step` (tests/plugins/svc_probe.c), and the core's evaluation counters.
. "$(dirname "$0")/lib.sh"
DB="$WORK/s.db"
mkdir -p "$WORK/plugins"
cp "$TB_TEST_PLUGINS/svc_probe.so" "$WORK/plugins/"
export TRAINBENCH_PLUGIN_PATH="$WORK/plugins"
cat > "$WORK/svc.lua" <<'LUA'
local tb = require "trainbench"
tb.scenario {
  name = "services",
  data = tb.data.wine {},
  model = tb.model.mlp { hidden = { 8 }, activation = tb.grid { "tanh", "gelu" } },
  loss = tb.grid { "cross_entropy", "focal" },
  optimizer = tb.grid { "svc_probe", "svc_undeclared" },
  epochs = 2, batch_size = 32,
}
LUA
"$TB" run "$WORK/svc.lua" --db "$DB" -j 2 >"$WORK/out" 2>&1
eq "every svc_probe run complete (services behave)" "$(q "$DB" "SELECT count(*) FROM runs WHERE optimizer = 'svc_probe' AND status = 'complete'")" 4
# wine: 178 rows -> 106 train (stratified 0.6), batch 32 -> 4 steps/epoch, 8 steps;
# per step: 1 loss+gradient for the step, then 4 evals (2 with gradient) and 2 JVPs
eq "evaluation counts recorded" "$(q "$DB" "SELECT DISTINCT steps || ' ' || loss_evals || ' ' || grad_evals || ' ' || jvp_evals FROM runs WHERE optimizer = 'svc_probe'")" "8 40 24 16"
eq "an undeclared service call fails the run" "$(q "$DB" "SELECT DISTINCT status FROM runs WHERE optimizer = 'svc_undeclared'")" failed
has "and says why" "$(q "$DB" "SELECT error FROM runs WHERE optimizer = 'svc_undeclared' LIMIT 1")" "without declaring TB_SERVICE_EVAL"
done_checks
