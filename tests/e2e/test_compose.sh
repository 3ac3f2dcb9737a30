#!/bin/sh
# Composition in real runs: wrappers over bases (ABI 2.0's TB_SERVICE_BASE),
# through the bundled lookahead, ema and logit_clip:
#   - a wrapper's base is part of the run's identity and of its params (under
#     optimizer.base, loss.base); two bases, two configurations; a rerun skips
#   - ema with decay 0 passes its base through: its numbers equal the base's
#     alone, bit for bit, also under a cosine schedule (the schedule's factor
#     reaches the base, which has the learning rate)
#   - ema with decay 0.9 trains exactly as its base alone (the train.loss
#     series is bit-identical) while evaluation passes see the average
#   - wrappers nest (lookahead over ema over sgd): evaluation sees the EMA
#     through lookahead, which has no eval_params of its own
#   - logit_clip with a bound no logit vector reaches equals its base alone,
#     bit for bit, in training and evaluation; with a small bound it differs
#   - every component of the tree, bases included, is fingerprinted
#   - a base that adds tensors fails its run with a message naming it
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/plugins"
cp "$TB_TEST_PLUGINS/rt_losses.so" "$WORK/plugins/"
export TRAINBENCH_PLUGIN_PATH="$WORK/plugins"
DB="$WORK/c.db"

# scenario NAME LOSS OPTIMIZER [SCHEDULE]: one run of that scenario
scenario() {
  cat <<LUA
tb.scenario {
  name = "$1", data = tb.data.wine {}, model = tb.model.mlp { hidden = { 8 } },
  loss = $2, optimizer = $3, schedule = ${4:-"constant"}, epochs = 4, batch_size = 16,
}
LUA
}
SGD='tb.optimizer("sgd", { lr = 0.1, momentum = 0.9 })'
{
  echo 'local tb = require "trainbench"'
  scenario la_a2 '"cross_entropy"' 'tb.optimizer("lookahead", { base = tb.optimizer("adam", { lr = 1e-2 }), k = 3 })'
  scenario la_a3 '"cross_entropy"' 'tb.optimizer("lookahead", { base = tb.optimizer("adam", { lr = 1e-3 }), k = 3 })'
  scenario sgd '"cross_entropy"' "$SGD"
  scenario ema0 '"cross_entropy"' "tb.optimizer(\"ema\", { base = $SGD, decay = 0 })"
  scenario ema9 '"cross_entropy"' "tb.optimizer(\"ema\", { base = $SGD, decay = 0.9 })"
  scenario sgd_cos '"cross_entropy"' "$SGD" '"cosine"'
  scenario ema0_cos '"cross_entropy"' "tb.optimizer(\"ema\", { base = $SGD, decay = 0 })" '"cosine"'
  scenario nest '"cross_entropy"' "tb.optimizer(\"lookahead\", { base = tb.optimizer(\"ema\", { base = $SGD, decay = 0.9 }), k = 2 })"
  scenario la_sgd '"cross_entropy"' "tb.optimizer(\"lookahead\", { base = $SGD, k = 2 })"
  scenario ce '"cross_entropy"' "$SGD"
  scenario clip_wide 'tb.loss("logit_clip", { base = "cross_entropy", delta = 1000 })' "$SGD"
  scenario clip_tight 'tb.loss("logit_clip", { base = "cross_entropy", delta = 0.5 })' "$SGD"
  scenario focal 'tb.loss("focal", { gamma = 2 })' "$SGD"
  scenario clip_focal 'tb.loss("logit_clip", { base = tb.loss("focal", { gamma = 2 }), delta = 1000 })' "$SGD"
  scenario bad_base 'tb.loss("logit_clip", { base = "rt_temp_ce" })' "$SGD"
} >"$WORK/c.lua"
"$TB" run "$WORK/c.lua" --db "$DB" -j 2 >"$WORK/out" 2>&1
eq "run: some runs failed (status 3)" "$?" 3
eq "every run but bad_base complete" \
  "$(q "$DB" "SELECT group_concat(scenario || '=' || status, ' ') FROM (SELECT scenario, status FROM runs WHERE status != 'complete' ORDER BY scenario)")" \
  "bad_base=failed"
has "bad_base: the error names the base and why" \
  "$(q "$DB" "SELECT error FROM runs WHERE scenario = 'bad_base'")" \
  "called add_tensor: only the outermost loss owns tensors"

# metrics SCENARIO: every final metric of the run, exactly
metrics() {
  q "$DB" "SELECT m.split || '.' || m.name || '=' || printf('%!.17g', m.value) FROM final_metrics m JOIN runs r ON r.id = m.run_id
           WHERE r.scenario = '$1' ORDER BY m.split, m.name"
}
# series SCENARIO: the train.loss series, exactly
series() {
  q "$DB" "SELECT s.step || ' ' || printf('%!.17g', s.value) FROM series s JOIN runs r ON r.id = s.run_id
           WHERE r.scenario = '$1' AND s.name = 'train.loss' ORDER BY s.step"
}
# same DESC A B: two outputs equal and not empty
same() {
  if [ -z "$2" ]; then eq "$1" "(empty)" "(not empty)"
  elif [ "$2" = "$3" ]; then eq "$1" "$(printf '%s\n' "$2" | wc -l) equal lines" "$(printf '%s\n' "$3" | wc -l) equal lines"
  else eq "$1" "$2" "$3"; fi
}

# ---- identity and params ----------------------------------------------------------
eq "two bases, two configurations" \
  "$(q "$DB" "SELECT count(DISTINCT config_hash) FROM runs WHERE scenario IN ('la_a2', 'la_a3')")" 2
eq "the base's settings are params under optimizer.base" \
  "$(q "$DB" "SELECT p.value FROM params p JOIN runs r ON r.id = p.run_id
              WHERE r.scenario = 'la_a3' AND p.component = 'optimizer.base' AND p.key = 'lr'")" 0.001
eq "and the base's name under optimizer" \
  "$(q "$DB" "SELECT p.value FROM params p JOIN runs r ON r.id = p.run_id
              WHERE r.scenario = 'la_a3' AND p.component = 'optimizer' AND p.key = 'base'")" adam
eq "nested bases: optimizer.base.base" \
  "$(q "$DB" "SELECT p.value FROM params p JOIN runs r ON r.id = p.run_id
              WHERE r.scenario = 'nest' AND p.component = 'optimizer.base.base' AND p.key = 'lr'")" 0.1
eq "the results view has a column per base setting" \
  "$(q "$DB" "SELECT \"optimizer.base.lr\" FROM results WHERE scenario = 'la_a2'")" 0.01
"$TB" run "$WORK/c.lua" --db "$DB" >"$WORK/out2" 2>&1
has "a rerun skips the complete runs" "$(cat "$WORK/out2")" "14 already recorded"
eq "bases are fingerprinted with their wrappers" \
  "$(q "$DB" "SELECT group_concat(name, ' ') FROM (SELECT DISTINCT name FROM components
              WHERE name IN ('lookahead', 'ema', 'adam', 'sgd', 'logit_clip', 'focal')
              AND fingerprint IS NOT NULL ORDER BY name)")" \
  "adam ema focal logit_clip lookahead sgd"

# ---- optimizer wrappers -----------------------------------------------------------
same "ema with decay 0 = its base alone, every final metric" "$(metrics ema0)" "$(metrics sgd)"
same "... under a cosine schedule too (the factor reaches the base)" \
  "$(metrics ema0_cos)" "$(metrics sgd_cos)"
ok "... and the schedule changed the numbers" [ "$(metrics sgd_cos)" != "$(metrics sgd)" ]
same "ema with decay 0.9 trains as its base alone (train.loss series)" "$(series ema9)" "$(series sgd)"
ok "... but evaluation sees the average (val.loss differs)" \
  [ "$(metrics ema9 | grep '^val.loss=')" != "$(metrics sgd | grep '^val.loss=')" ]
same "lookahead over ema trains as lookahead over the ema's base (train.loss series)" \
  "$(series nest)" "$(series la_sgd)"
ok "... but its evaluation sees the EMA through lookahead (val.loss differs)" \
  [ "$(metrics nest | grep '^val.loss=')" != "$(metrics la_sgd | grep '^val.loss=')" ]
ok "lookahead moved the training" [ "$(series la_sgd)" != "$(series sgd)" ]

# ---- loss wrappers ----------------------------------------------------------------
same "logit_clip with a bound never reached = cross_entropy alone, every final metric" \
  "$(metrics clip_wide)" "$(metrics ce)"
same "... and over focal = focal alone" "$(metrics clip_focal)" "$(metrics focal)"
ok "a tight bound changes the numbers" [ "$(metrics clip_tight)" != "$(metrics ce)" ]

done_checks
