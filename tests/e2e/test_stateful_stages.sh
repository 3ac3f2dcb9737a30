#!/bin/sh
# A stateful loss under the training step's stages, in real runs: rt_ema_ce
# (tests/plugins/rt_losses.c: cross-entropy times c = 1 + tanh(m)/2, and
# after each TRAIN call m <- 0.9 m + 0.1 mean CE; it reports c) with
# label_noise corruption and small_loss reduction, beside cross_entropy under
# the same configuration:
#   - rt_ema_ce reads no soft targets: mixup with it is refused at load,
#     naming the loss, and nothing is recorded
#   - the runs complete, bit for bit the same at -j1, at -j2 and again
#   - the state moves once per optimizer step, from the TRAIN batch with the
#     reduction's weights: the reported factor follows the recurrence at
#     every step, across epoch ends too, so neither the reduction's PROBE
#     calls (one per row) nor the evaluation passes moved it; evaluation
#     sees the state after the last step (val loss / val nll = c)
#   - it differs from cross_entropy, which it equals at the first step (c = 1,
#     the same weights, batch and weights of the reduction)
#   - the stage counters: the same labels flipped whatever the loss, and the
#     rows dropped that small_loss's schedule gives for the training split
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/plugins"
cp "$TB_TEST_PLUGINS/rt_losses.so" "$WORK/plugins/"
export TRAINBENCH_PLUGIN_PATH="$WORK/plugins"

# forget 0.25 (exact in binary) from epoch 1 on (ramp 1): floor(0.25 n) of each
# batch of n rows is dropped in epochs 1 and 2, none in epoch 0
cat >"$WORK/s.lua" <<'LUA'
local tb = require "trainbench"
for _, loss in ipairs { "rt_ema_ce", "cross_entropy" } do
  tb.scenario {
    name = loss, data = tb.data.wine {}, model = tb.model.mlp { hidden = { 8 } },
    loss = loss, optimizer = tb.optimizer("sgd", { lr = 0.1 }),
    epochs = 3, batch_size = 16, seeds = { 1, 2 },
    corruption = tb.corruption.label_noise { rate = 0.3 },
    reduction = tb.reduction.small_loss { forget = 0.25, ramp = 1 },
  }
end
LUA
cat >"$WORK/mixup.lua" <<'LUA'
local tb = require "trainbench"
tb.scenario { name = "mixup", data = tb.data.wine {}, loss = "rt_ema_ce", optimizer = "sgd",
  epochs = 1, transform = tb.transform.mixup { alpha = 0.4 } }
LUA

"$TB" run "$WORK/mixup.lua" --db "$WORK/mixup.db" >"$WORK/out" 2>&1
eq "mixup with rt_ema_ce: refused (status 1)" "$?" 1
has "... naming the loss and what it lacks" "$(cat "$WORK/out")" \
  "mixup.lua:2: loss 'rt_ema_ce' does not read soft targets (TB_LOSS_SOFT_TARGETS)"
ok "... before anything is recorded" [ ! -e "$WORK/mixup.db" ]

"$TB" run "$WORK/s.lua" --db "$WORK/a.db" -j 1 >"$WORK/out" 2>&1
eq "run -j1: status 0" "$?" 0
"$TB" run "$WORK/s.lua" --db "$WORK/b.db" -j 2 >/dev/null 2>&1
"$TB" run "$WORK/s.lua" --db "$WORK/c.db" -j 2 >/dev/null 2>&1
DB="$WORK/a.db"
eq "every run complete" \
  "$(q "$DB" "SELECT group_concat(scenario || ':' || seed || '=' || status, ' ') FROM
              (SELECT * FROM runs ORDER BY scenario DESC, seed)")" \
  "rt_ema_ce:1=complete rt_ema_ce:2=complete cross_entropy:1=complete cross_entropy:2=complete"

# everything a run records but its times, exactly
DUMP="SELECT r.config_hash, m.epoch, m.split, m.name, printf('%!.17g', m.value) FROM metrics m
        JOIN runs r ON r.id = m.run_id ORDER BY 1, 2, 3, 4;
      SELECT r.config_hash, s.name, s.step, printf('%!.17g', s.value) FROM series s
        JOIN runs r ON r.id = s.run_id ORDER BY 1, 2, 3;
      SELECT r.config_hash, c.name, printf('%!.17g', c.value) FROM counters c
        JOIN runs r ON r.id = c.run_id WHERE c.name NOT GLOB 'time.*' ORDER BY 1, 2;
      SELECT r.config_hash, c.split, c.true_class, c.pred_class, c.count FROM confusion c
        JOIN runs r ON r.id = c.run_id ORDER BY 1, 2, 3, 4"
for d in a b c; do "$TB" query --db "$WORK/$d.db" --csv "$DUMP" >"$WORK/$d.csv"; done
ok "metrics, series, counters and confusion counts recorded" [ "$(wc -l <"$WORK/a.csv")" -gt 900 ]
ok "-j1 and -j2: bit for bit the same" cmp "$WORK/a.csv" "$WORK/b.csv"
ok "the same seeds again: bit for bit the same" cmp "$WORK/b.csv" "$WORK/c.csv"

# ---- the loss's state ---------------------------------------------------------------
# steps SEED: "step,factor,train.loss" of rt_ema_ce's run (every step is kept: 21 steps)
steps() {
  q "$DB" "SELECT f.step || ',' || printf('%!.17g', f.value) || ',' || printf('%!.17g', l.value)
           FROM series f JOIN series l ON l.run_id = f.run_id AND l.step = f.step
           AND l.name = 'train.loss' JOIN runs r ON r.id = f.run_id
           WHERE r.scenario = 'rt_ema_ce' AND r.seed = $1 AND f.name = 'rt_ema_ce.factor'
           ORDER BY f.step"
}
# recur: from each step's factor c and loss c * mean, m = atanh(2 (c - 1)) and
# the next factor 1 + tanh(0.9 m + 0.1 mean) / 2; prints the largest relative
# error against the reported factors and the factor after the last step
RECUR='function tanh(x) { return (exp(2 * x) - 1) / (exp(2 * x) + 1) }
function atanh(x) { return 0.5 * log((1 + x) / (1 - x)) }
NR > 1 { e = (next_c - $2) / $2; if (e < 0) e = -e; if (e > err) err = e }
{ c = $2; mean = $3 / c; next_c = 1 + tanh(0.9 * atanh(2 * (c - 1)) + 0.1 * mean) / 2 }
END { printf "%.17g %.17g\n", err, next_c }'
# ratio SEED EPOCH: val loss / val nll of rt_ema_ce's run at EPOCH
ratio() {
  q "$DB" "SELECT printf('%!.17g', l.value / n.value) FROM metrics l JOIN metrics n
           ON n.run_id = l.run_id AND n.epoch = l.epoch AND n.split = 'val' AND n.name = 'nll'
           JOIN runs r ON r.id = l.run_id WHERE r.scenario = 'rt_ema_ce' AND r.seed = $1
           AND l.epoch = $2 AND l.split = 'val' AND l.name = 'loss'"
}
# close A B: |A - B| <= 1e-12 |B|
close() { awk "BEGIN { d = ($1) - ($2); if (d < 0) d = -d; exit !(d <= 1e-12 * ($2)) }"; }
eq "the factor is reported at each of the 21 steps" "$(steps 1 | wc -l)" 21
for seed in 1 2; do
  first=$(steps $seed | head -n 1 | cut -d, -f2)
  last=$(steps $seed | tail -n 1 | cut -d, -f2)
  ok "seed $seed: the state starts at m = 0 (factor $first)" close "$first" 1
  ok "seed $seed: and moves (last factor $last > 1.1)" awk "BEGIN { exit !($last > 1.1) }"
  set -- $(steps $seed | awk -F, "$RECUR")
  ok "seed $seed: one update per step from its TRAIN batch, none from PROBE or EVAL calls (largest error $1)" \
    awk "BEGIN { exit !($1 <= 1e-12) }"
  ok "seed $seed: evaluation before training sees m = 0 (val loss / nll = $(ratio $seed 0))" \
    close "$(ratio $seed 0)" 1
  ok "seed $seed: evaluation after the last step sees its state (val loss / nll = $(ratio $seed 3), factor $2)" \
    close "$(ratio $seed 3)" "$2"
done

# ---- against cross_entropy under the same configuration ---------------------------
# loss_at SCENARIO STEP: the train.loss of seed 1's run at STEP
loss_at() {
  q "$DB" "SELECT printf('%!.17g', s.value) FROM series s JOIN runs r ON r.id = s.run_id
           WHERE r.scenario = '$1' AND r.seed = 1 AND s.name = 'train.loss' AND s.step = $2"
}
ok "at the first step (factor 1) it is cross_entropy: train loss $(loss_at rt_ema_ce 1)" \
  close "$(loss_at rt_ema_ce 1)" "$(loss_at cross_entropy 1)"
ok "later it is not: train loss at step 21 $(loss_at rt_ema_ce 21) vs $(loss_at cross_entropy 21)" \
  [ "$(loss_at rt_ema_ce 21)" != "$(loss_at cross_entropy 21)" ]
final() {
  q "$DB" "SELECT group_concat(printf('%!.17g', f.value), ' ') FROM final_metrics f
           JOIN runs r ON r.id = f.run_id WHERE r.scenario = '$1' AND f.split = 'val'
           AND f.name = 'nll' ORDER BY r.seed"
}
ok "and the final val nll differs ($(final rt_ema_ce) vs $(final cross_entropy))" \
  [ "$(final rt_ema_ce)" != "$(final cross_entropy)" ]

# ---- the stages' counters -----------------------------------------------------------
counter() {
  q "$DB" "SELECT group_concat(r.scenario || ':' || r.seed || '=' || c.value, ' ') FROM
           (SELECT * FROM runs ORDER BY scenario DESC, seed) r JOIN counters c
           ON c.run_id = r.id AND c.name = '$1'"
}
changed=$(counter corruption.changed)
eq "the same labels flipped whatever the loss (per seed)" \
  "$(q "$DB" "SELECT count(DISTINCT r.scenario) || ' ' || count(DISTINCT c.value) FROM runs r
              JOIN counters c ON c.run_id = r.id AND c.name = 'corruption.changed' GROUP BY r.seed
              ORDER BY r.seed" | tr '\n' ' ')" "2 1 2 1 "
# the training split's rows: the last epoch's train confusion counts
n_train=$(q "$DB" "SELECT DISTINCT sum(count) FROM confusion WHERE split = 'train' GROUP BY run_id")
eq "the training split's $n_train rows make the run's 21 steps (3 epochs of batches of 16)" \
  "$(q "$DB" "SELECT DISTINCT steps FROM runs")" $((3 * ((n_train + 15) / 16)))
eq "some labels flipped, not all ($changed)" \
  "$(q "$DB" "SELECT min(value) > 0 AND max(value) < $n_train FROM counters
              WHERE name = 'corruption.changed'")" 1
dropped=$(awk -v n="$n_train" 'BEGIN {
  for (e = 0; e < 3; e++) {
    drop = e * 0.25 / 1; if (drop > 0.25) drop = 0.25
    for (left = n; left > 0; left -= 16) { b = left < 16 ? left : 16; d += int(drop * b) }
  }
  print d }')
eq "rows dropped: small_loss's schedule over $n_train rows in batches of 16 ($dropped each)" \
  "$(counter reduction.dropped)" \
  "rt_ema_ce:1=$dropped.0 rt_ema_ce:2=$dropped.0 cross_entropy:1=$dropped.0 cross_entropy:2=$dropped.0"
eq "one report per step: the reduction's PROBE calls report nothing" \
  "$(counter svc.report)" "rt_ema_ce:1=21.0 rt_ema_ce:2=21.0"
done_checks
