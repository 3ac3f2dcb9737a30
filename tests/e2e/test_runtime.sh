#!/bin/sh
# The run-time parts of ABI 2.0 in real runs, through test-only plugins
# (tests/plugins/rt_losses.c, rt_optimizers.c, rt_misuse.c):
#   - loss-owned tensors: a learned temperature moves; a dual variable
#     (ASCENT + NONNEG) rises while its constraint is violated and stays at
#     exactly 0 while it holds
#   - report: points land in `series` with the interval of train.loss in
#     series_info, as many as train.loss keeps however many steps report
#   - next_batch: fresh batches reach the services but leave the run's own
#     batches and trajectory bit-identical; drawn deterministically per seed
#   - eval_params: evaluation passes see the optimizer's average or initial
#     parameters while training goes on with the live ones
#   - TB_LOSS_NOT_MEAN: called once on each whole split (digits: 1078 train
#     rows, more than one evaluation chunk)
#   - misuse of each service fails the run with a message naming the component
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/plugins"
for p in rt_losses rt_optimizers rt_misuse; do cp "$TB_TEST_PLUGINS/$p.so" "$WORK/plugins/"; done
export TRAINBENCH_PLUGIN_PATH="$WORK/plugins"
DB="$WORK/rt.db"

# scenario NAME LOSS OPTIMIZER [DATASET] [EPOCHS] [BATCH]: one run of that scenario
scenario() {
  cat <<LUA
tb.scenario {
  name = "$1", data = tb.data.${4:-wine} {}, model = tb.model.mlp { hidden = { 8 } },
  loss = $2, optimizer = $3, epochs = ${5:-3}, batch_size = ${6:-16},
}
LUA
}
{
  echo 'local tb = require "trainbench"'
  scenario temp '"rt_temp_ce"' '"rt_avg_sgd"'
  scenario dual_on 'tb.loss("rt_dual_cap", { cap = 0.1 })' 'tb.optimizer("rt_avg_sgd", { lr = 0.5 })'
  scenario dual_off 'tb.loss("rt_dual_cap", { cap = 1000 })' '"rt_avg_sgd"'
  # wine: 106 train rows, batch 4 -> 27 steps per epoch, 270 in all: every 2nd step is kept
  scenario long '"rt_dual_cap"' '"rt_avg_sgd"' wine 10 4
  scenario draw '"rt_temp_ce"' 'tb.optimizer("rt_esgd_probe", { draw = true })'
  scenario nodraw '"rt_temp_ce"' 'tb.optimizer("rt_esgd_probe", { draw = false })'
  scenario ev_live '"cross_entropy"' 'tb.optimizer("rt_avg_sgd", { eval = "live" })'
  scenario ev_avg '"cross_entropy"' 'tb.optimizer("rt_avg_sgd", { eval = "average" })'
  scenario ev_init '"cross_entropy"' 'tb.optimizer("rt_avg_sgd", { eval = "initial" })'
  scenario notmean '"rt_sqmean_ce"' '"sgd"' digits 2 64
} >"$WORK/rt.lua"
"$TB" run "$WORK/rt.lua" --db "$DB" -j 2 >"$WORK/out" 2>&1
eq "every run complete" "$(q "$DB" "SELECT count(*) || ' ' || sum(status = 'complete') FROM runs")" "10 10"

# same DESC A B: two outputs equal and not empty (nothing equals nothing)
same() {
  if [ -z "$2" ]; then
    eq "$1" "(empty)" "(not empty)"
  elif [ "$2" = "$3" ]; then
    eq "$1" "$(printf '%s\n' "$2" | wc -l) equal lines" "$(printf '%s\n' "$3" | wc -l) equal lines"
  else
    eq "$1" "$2" "$3"
  fi
}

# series NAME SCENARIO [DB]: "step value" lines of one run's series
series() {
  q "${3:-$DB}" "SELECT s.step || ' ' || printf('%!.17g', s.value) FROM series s JOIN runs r ON r.id = s.run_id
           WHERE r.scenario = '$2' AND s.name = '$1' ORDER BY s.step"
}

# ---- loss tensors ----------------------------------------------------------------
eq "the temperature is reported at every step of the short run" \
  "$(series rt_temp_ce.temperature temp | wc -l)" 21
first=$(series rt_temp_ce.temperature temp | head -n 1 | cut -d' ' -f2)
last=$(series rt_temp_ce.temperature temp | tail -n 1 | cut -d' ' -f2)
ok "the learned temperature starts at t0 = 1 ($first)" awk "BEGIN { exit !($first == 1) }"
ok "the optimizer moved it (last $last)" awk "BEGIN { exit !($last != 1) }"
eq "a violated constraint: lambda is 0 at the first step, then rises (ascent)" \
  "$(q "$DB" "SELECT min(value) = 0 AND max(value) > 0.01 FROM series s JOIN runs r ON r.id = s.run_id
              WHERE r.scenario = 'dual_on' AND s.name = 'rt_dual_cap.lambda'")" 1
eq "lambda never goes below 0 (projected)" \
  "$(q "$DB" "SELECT count(*) FROM series s JOIN runs r ON r.id = s.run_id
              WHERE s.name = 'rt_dual_cap.lambda' AND s.value < 0")" 0
eq "a constraint that holds: lambda stays exactly 0 (the ascent step is negative, projected)" \
  "$(q "$DB" "SELECT count(*) || ' ' || max(value) FROM series s JOIN runs r ON r.id = s.run_id
              WHERE r.scenario = 'dual_off' AND s.name = 'rt_dual_cap.lambda'")" "21 0.0"
eq "and its violation is negative throughout" \
  "$(q "$DB" "SELECT max(value) < 0 FROM series s JOIN runs r ON r.id = s.run_id
              WHERE r.scenario = 'dual_off' AND s.name = 'rt_dual_cap.violation'")" 1

# ---- report ----------------------------------------------------------------------------
eq "a long run: the core's series (train.*) and each reported one keep every 2nd step" \
  "$(q "$DB" "SELECT group_concat(i.name || '=' || i.every, ' ') FROM series_info i
              JOIN runs r ON r.id = i.run_id WHERE r.scenario = 'long' ORDER BY i.name")" \
  "rt_avg_sgd.grad_norm=2 rt_dual_cap.lambda=2 rt_dual_cap.violation=2 train.grad_norm=2 train.loss=2 train.lr=2 train.lr_factor=2 train.update_norm=2"
eq "a long run: as many points per reported series as train.loss keeps (270 steps)" \
  "$(q "$DB" "SELECT group_concat(n, ' ') FROM (SELECT count(*) AS n FROM series s JOIN runs r
              ON r.id = s.run_id WHERE r.scenario = 'long' GROUP BY s.name ORDER BY s.name)")" \
  "135 135 135 135 135 135 135 135"
eq "a long run: the kept steps are train.loss's" \
  "$(q "$DB" "SELECT count(DISTINCT step) || ' ' || min(step) || ' ' || max(step) FROM series s
              JOIN runs r ON r.id = s.run_id WHERE r.scenario = 'long'")" "135 2 270"
eq "report calls are counted (two names from the loss, one from the optimizer, 270 steps)" \
  "$(q "$DB" "SELECT CAST(c.value AS INTEGER) FROM counters c JOIN runs r ON r.id = c.run_id
              WHERE r.scenario = 'long' AND c.name = 'svc.report'")" 810

# ---- next_batch ----------------------------------------------------------------------
same "drawing fresh batches leaves the run's training loss bit for bit" \
  "$(series train.loss draw)" "$(series train.loss nodraw)"
same "and every evaluation metric" \
  "$(q "$DB" "SELECT group_concat(printf('%!.17g', m.value), ' ') FROM metrics m JOIN runs r ON r.id = m.run_id
              WHERE r.scenario = 'draw' ORDER BY m.epoch, m.split, m.name")" \
  "$(q "$DB" "SELECT group_concat(printf('%!.17g', m.value), ' ') FROM metrics m JOIN runs r ON r.id = m.run_id
              WHERE r.scenario = 'nodraw' ORDER BY m.epoch, m.split, m.name")"
# 21 steps, each: the step's own loss + 2 evals with gradients on fresh batches
eq "fresh batches counted and evaluated" \
  "$(q "$DB" "SELECT r.steps || ' ' || r.loss_evals || ' ' || r.grad_evals || ' ' || CAST(c.value AS INTEGER) FROM runs r
              JOIN counters c ON c.run_id = r.id AND c.name = 'svc.next_batch' WHERE r.scenario = 'draw'")" \
  "21 63 63 42"
eq "the fresh batches' loss is reported at every step" "$(series rt_esgd.fresh_loss draw | wc -l)" 21
"$TB" run "$WORK/rt.lua" --db "$WORK/again.db" -j 1 >/dev/null 2>&1
same "the fresh batches are the same in another sweep (their own stream, from the seed)" \
  "$(series rt_esgd.fresh_loss draw "$WORK/again.db")" "$(series rt_esgd.fresh_loss draw)"

# ---- eval_params ---------------------------------------------------------------------
same "training goes on with the live parameters: eval = average" \
  "$(series train.loss ev_avg)" "$(series train.loss ev_live)"
same "training goes on with the live parameters: eval = initial" \
  "$(series train.loss ev_init)" "$(series train.loss ev_live)"
# metric values of SCENARIO at EPOCH (splits and names in order)
metrics_at() {
  q "$DB" "SELECT group_concat(printf('%!.17g', m.value), ' ') FROM metrics m JOIN runs r ON r.id = m.run_id
           WHERE r.scenario = '$1' AND m.epoch = $2 ORDER BY m.split, m.name"
}
same "epoch 0: the average is the live parameters" "$(metrics_at ev_avg 0)" "$(metrics_at ev_live 0)"
same "epoch 0: the initial parameters are the live ones" "$(metrics_at ev_init 0)" \
  "$(metrics_at ev_live 0)"
same "eval = initial: epoch 1's metrics are epoch 0's" "$(metrics_at ev_init 1)" \
  "$(metrics_at ev_init 0)"
same "eval = initial: epoch 3's metrics are epoch 0's" "$(metrics_at ev_init 3)" \
  "$(metrics_at ev_init 0)"
ok "eval = average: the metrics after training differ from the live parameters'" \
  test -n "$(metrics_at ev_avg 3)" -a "$(metrics_at ev_avg 3)" != "$(metrics_at ev_live 3)"
ok "and from the initial ones" \
  test -n "$(metrics_at ev_avg 3)" -a "$(metrics_at ev_avg 3)" != "$(metrics_at ev_init 3)"

# ---- TB_LOSS_NOT_MEAN ----------------------------------------------------------------
# rt_sqmean_ce's value is (mean CE)^2 and the core's nll is the mean CE: equal only when
# the loss sees each split whole (a mean of per-chunk squares would not be)
eq "a loss that is not a mean is evaluated once per whole split: loss = nll^2" \
  "$(q "$DB" "SELECT count(*) || ' ' || sum(abs(l.value - n.value * n.value) <= 1e-12 * l.value)
              FROM metrics l JOIN metrics n ON n.run_id = l.run_id AND n.epoch = l.epoch AND n.split = l.split
              AND n.name = 'nll' JOIN runs r ON r.id = l.run_id WHERE r.scenario = 'notmean' AND l.name = 'loss'")" \
  "9 9"

# ---- misuse fails the run, naming the component --------------------------------------
{
  echo 'local tb = require "trainbench"'
  scenario m_eval '"rt_report_eval"' '"sgd"'
  scenario m_undecl '"rt_report_undeclared"' '"sgd"'
  scenario m_name '"rt_report_badname"' '"sgd"'
  scenario m_tbad '"rt_tensor_bad"' '"sgd"'
  scenario m_tlate '"rt_tensor_late"' '"sgd"'
  scenario m_next '"cross_entropy"' '"rt_next_undeclared"'
  scenario m_clash '"rt_dual_cap"' '"rt_report_clash"'
  scenario m_many '"cross_entropy"' '"rt_report_many"'
} >"$WORK/misuse.lua"
MDB="$WORK/m.db"
"$TB" run "$WORK/misuse.lua" --db "$MDB" -j 2 >"$WORK/mout" 2>&1
eq "every misusing run failed" "$(q "$MDB" "SELECT count(*) || ' ' || sum(status = 'failed') FROM runs")" "8 8"
err_of() { q "$MDB" "SELECT error FROM runs WHERE scenario = '$1'"; }
has "report in an evaluation pass" "$(err_of m_eval)" \
  "loss 'rt_report_eval' called report in phase EVAL (an evaluation pass): only the training step's call (TB_PHASE_TRAIN) may report"
has "report without declaring it" "$(err_of m_undecl)" \
  "loss 'rt_report_undeclared' called report without declaring TB_SERVICE_REPORT"
has "a bad series name" "$(err_of m_name)" \
  "loss 'rt_report_badname' reported a series with a bad name: 'Bad-Name' is not a lowercase identifier with dots"
has "a loss tensor of a bad shape (the loss went on without it)" "$(err_of m_tbad)" \
  "loss 'rt_tensor_bad': add_tensor 'margins': shape entry 0 at dimension 1: each must be >= 1"
has "add_tensor after create" "$(err_of m_tlate)" \
  "loss 'rt_tensor_late': add_tensor 'late': called outside the loss's create"
has "next_batch without declaring it" "$(err_of m_next)" \
  "optimizer 'rt_next_undeclared' called the next_batch service without declaring TB_SERVICE_NEXT_BATCH"
has "a series the loss reports too" "$(err_of m_clash)" \
  "optimizer 'rt_report_clash' reported series 'rt_dual_cap.lambda', which the loss reports too"
has "more series names than a run keeps" "$(err_of m_many)" \
  "optimizer 'rt_report_many' reported series 'rt_many.s16': a run keeps at most 16 series names"
done_checks
