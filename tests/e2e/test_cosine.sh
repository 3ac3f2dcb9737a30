#!/bin/sh
# The cosine head in real runs (issue 8): a model with head = "cosine" under
# cosface, the loss that owns the scale s and the margin m:
#   - the runs complete and learn (wine, 3 classes: val accuracy > 0.8);
#     runs.model says head=cosine
#   - the metrics see s cos theta: with m = 0 cosface is the cross-entropy of
#     s cos theta, so its `loss` equals the metrics' `nll` on every split at
#     every epoch; with m > 0 the loss (margin included) exceeds the nll
#   - s reaches the metrics: the same weights' nll differs between s = 1 and
#     s = 16 at epoch 0 (accuracy, which s does not change, is equal)
#   - a wrapper over cosface (logit_clip) is a cosine reader too and runs
#   - bit-identical numbers at -j1 and -j2
#   - a loss whose scale turns NaN (rt_scale_nan) fails its run at that step,
#     naming itself, with the epochs before it kept
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/plugins"
cp "$TB_TEST_PLUGINS/rt_misuse.so" "$WORK/plugins/"
export TRAINBENCH_PLUGIN_PATH="$WORK/plugins"

cat >"$WORK/cos.lua" <<'LUA'
local tb = require "trainbench"
local function sc(name, loss)
  tb.scenario { name = name, data = tb.data.wine {},
    model = tb.model.mlp { hidden = { 16 }, head = "cosine" }, loss = loss,
    optimizer = tb.optimizer("adam", { lr = 0.01 }), epochs = 8, batch_size = 16 }
end
sc("m0", tb.loss("cosface", { s = 16, m = 0 }))
sc("m35", tb.loss("cosface", { s = 16, m = 0.35 }))
sc("s1", tb.loss("cosface", { s = 1, m = 0 }))
sc("clip", tb.loss("logit_clip", { base = tb.loss("cosface", { s = 16, m = 0.2 }), delta = 100 }))
LUA
"$TB" run "$WORK/cos.lua" --db "$WORK/a.db" -j 1 >"$WORK/out" 2>&1
eq "every cosine-head run completes" \
  "$(q "$WORK/a.db" "SELECT count(*) || ' ' || sum(status = 'complete') FROM runs")" "4 4"
[ "$(q "$WORK/a.db" "SELECT count(*) FROM runs")" = 4 ] || cat "$WORK/out"
eq "runs.model names the cosine head" \
  "$(q "$WORK/a.db" "SELECT DISTINCT model FROM runs")" "mlp[16]/relu/head=cosine"
eq "they learn: final val accuracy > 0.8 (m0, m35, clip)" \
  "$(q "$WORK/a.db" "SELECT group_concat(scenario, ' ') FROM (SELECT r.scenario FROM runs r
      JOIN final_metrics f ON f.run_id = r.id WHERE f.split = 'val' AND f.name = 'accuracy'
      AND f.value > 0.8 AND r.scenario IN ('m0', 'm35', 'clip') ORDER BY r.scenario)")" "clip m0 m35"
eq "m = 0: loss = nll (the metrics see s cos theta) at every split and epoch" \
  "$(q "$WORK/a.db" "SELECT count(*) || ' ' || sum(abs(l.value - n.value) <= 1e-9 * max(1, abs(n.value)))
      FROM metrics l JOIN metrics n USING (run_id, epoch, split) JOIN runs r ON r.id = l.run_id
      WHERE r.scenario = 'm0' AND l.name = 'loss' AND n.name = 'nll'")" "27 27"
eq "m = 0.35: the loss, margin included, exceeds the nll everywhere" \
  "$(q "$WORK/a.db" "SELECT count(*) || ' ' || sum(l.value > n.value)
      FROM metrics l JOIN metrics n USING (run_id, epoch, split) JOIN runs r ON r.id = l.run_id
      WHERE r.scenario = 'm35' AND l.name = 'loss' AND n.name = 'nll'")" "27 27"
# epoch 0: the same initial weights under s = 1 and s = 16
at0() { q "$WORK/a.db" "SELECT printf('%.12g', m.value) FROM metrics m JOIN runs r ON r.id = m.run_id
      WHERE r.scenario = '$1' AND m.epoch = 0 AND m.split = 'val' AND m.name = '$2'"; }
eq "epoch 0, s = 1 vs 16: the same accuracy" "$(at0 s1 accuracy)" "$(at0 m0 accuracy)"
ok "epoch 0, s = 1 vs 16: another nll (s reaches the metrics)" \
  test "$(at0 s1 nll)" != "$(at0 m0 nll)"
eq "s = 1, m = 0 at epoch 0: loss = nll as well" "$(at0 s1 loss)" "$(at0 s1 nll)"

"$TB" run "$WORK/cos.lua" --db "$WORK/b.db" -j 2 >/dev/null 2>&1
nums() { q "$1" "SELECT group_concat(v, ' ') FROM (SELECT r.scenario || m.epoch || m.split || m.name
      || '=' || printf('%.17g', m.value) AS v FROM metrics m JOIN runs r ON r.id = m.run_id
      ORDER BY r.scenario, m.epoch, m.split, m.name)"; }
eq "-j1 and -j2: bit-identical metrics" "$(nums "$WORK/a.db" | md5sum)" "$(nums "$WORK/b.db" | md5sum)"

cat >"$WORK/nan.lua" <<'LUA'
local tb = require "trainbench"
tb.scenario { name = "nan", data = tb.data.wine {},
  model = tb.model.linear { head = "cosine" }, loss = "rt_scale_nan",
  optimizer = "sgd", epochs = 3, batch_size = 16 }
LUA
"$TB" run "$WORK/nan.lua" --db "$WORK/n.db" >/dev/null 2>&1
eq "a NaN scale fails the run" "$(q "$WORK/n.db" "SELECT status FROM runs")" failed
has "... naming the loss, the answer and the step" "$(q "$WORK/n.db" "SELECT error FROM runs")" \
  "loss 'rt_scale_nan' reported the cosine head's scale nan (head_scale must return a finite s > 0) at epoch 2, step 8"
eq "... with the evaluations before it kept (epochs 0 and 1)" \
  "$(q "$WORK/n.db" "SELECT group_concat(e, ' ') FROM (SELECT DISTINCT epoch AS e FROM metrics ORDER BY e)")" "0 1"
done_checks
