#!/bin/sh
# test_check.sh — `trainbench check` through the real binary.
#
#   - every bundled plugin passes every check (exit 0), each component with
#     its whole list of checks; the NAME and FILE forms select what they name
#   - each broken plugin of tests/check fails exactly the checks its mistake
#     belongs to, and passes the others: bad_sign (grad-fd), no_mean
#     (scale-1/N, and grad-fd at N=64), nan_big (finite), rng_sneak and
#     sneaky_eval (services), shared_state (no-shared-state); crash_step
#     fails its step checks as crashes and the checker carries on; hang_step
#     is killed at --timeout; svc_user, which checks the checker's eval and
#     jvp services from inside its step, passes everything; row_mismatch
#     (row-form), bad_tensor_grad (tensor-fd), eval_update (phase: its state
#     moves in evaluation passes), sneaky_report (services), eval_moves
#     (eval-params); requires_ids passes (sample ids are always provided) and
#     requires_unknown is refused by the loader with its reason, not crashed on;
#     the wrappers base_undeclared, base_bad_slot, lbase_undeclared (services,
#     composition) and base_ignored, lbase_ignored (composition); bad_scale
#     (a cosine-head loss whose scale is 0 in EVAL calls: head-scale)
#   - the bundled wrappers (lookahead, ema, logit_clip) pass every check over
#     their default bases, and swapping the base changes what they compute
#   - the test-only plugins that use the run-time services right
#     (tests/plugins/rt_*.c: loss tensors, a stateful loss, a loss that is not
#     a mean, eval_params, next_batch, report) pass every check, and the rows
#     say what applied: stateful, skipped for TB_LOSS_NOT_MEAN, tensors
#     checked by finite differences
#   - a file that is not a plugin, one without an entry point and a missing
#     one each give a FAIL "load" row with the loader's reason
#   - a copy of a bundled plugin fails "unique"
#   - usage errors exit 2; an unknown name lists the valid ones
#   - in ASan builds: LeakSanitizer in the checking child flags a plugin
#     whose destroy leaks, and finds nothing in the bundled plugins
#
# Usage (through meson test): test_check.sh DIR_OF_BROKEN_PLUGINS
set -u
TB=${TB_TRAINBENCH:?run through meson test}
PLUG=${TB_BUILD_PLUGINS:?run through meson test}
DIR=${1:?usage: test_check.sh DIR_OF_BROKEN_PLUGINS}
WORK=$(mktemp -d /tmp/tb-check-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export TRAINBENCH_PLUGIN_PATH=""
fails=0
checks=0

COMMON_CHECKS="meta defaults unique create-edges"
LOSS_CHECKS="$COMMON_CHECKS grad-fd tensor-fd finite scale-1/N zero-weight row-form deterministic"
LOSS_CHECKS="$LOSS_CHECKS phase services requires head-scale composition"
OPT_CHECKS="$COMMON_CHECKS zero-grad tiny-grad huge-grad deterministic no-shared-state quadratic"
OPT_CHECKS="$OPT_CHECKS eval-params services composition"

pass() { checks=$((checks + 1)); echo "ok    $1"; }
fail() {
  checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL  $1"
  sed 's/^/      | /' "$WORK/out" | head -40
  sed 's/^/      ! /' "$WORK/err" | head -10
}

# run ARGS...: `trainbench check ARGS`, stdout in out, stderr in err, status in rc
run() { "$TB" check "$@" >"$WORK/out" 2>"$WORK/err"; rc=$?; }

eq() { # eq DESC ACTUAL EXPECTED
  if [ "$2" = "$3" ]; then pass "$1 ($2)"; else fail "$1: got '$2', expected '$3'"; fi
}

has() { # has DESC FILE NEEDLE
  if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1: '$3' not found"; fi
}

# The sorted, distinct check names of NAME's rows with result STATUS.
checks_of() { # checks_of STATUS NAME
  awk -v s="$1" -v n="$2" '$1 == s && $3 == n { print $4 }' "$WORK/out" | sort -u | tr '\n' ' ' |
    sed 's/ $//'
}
sorted() { printf '%s\n' $1 | sort -u | tr '\n' ' ' | sed 's/ $//'; }

# expect_fails NAME KIND "failing checks": exactly those fail, every other check passes
expect_fails() {
  all=$LOSS_CHECKS
  [ "$2" = optimizer ] && all=$OPT_CHECKS
  want_fail=$(sorted "$3")
  want_pass=$(for c in $all; do case " $3 " in *" $c "*) ;; *) echo "$c" ;; esac; done | sort -u |
    tr '\n' ' ' | sed 's/ $//')
  eq "$1: failing checks" "$(checks_of FAIL "$1")" "$want_fail"
  eq "$1: passing checks" "$(checks_of PASS "$1")" "$want_pass"
}

# the detail of NAME's first row for CHECK
detail() { awk -v n="$1" -v c="$2" '$3 == n && $4 == c { print; exit }' "$WORK/out"; }

# ---- the bundled plugins ----------------------------------------------------------

run
eq "check: every bundled plugin passes (exit status)" "$rc" 0
tail -n 1 "$WORK/out" | grep -Eq '^[0-9]+ checks, 0 failed$' && pass "check: summary line" ||
  fail "check: summary line"
"$TB" plugins 2>/dev/null | awk '$1 == "loss" || $1 == "optimizer" { print $1, $2 }' >"$WORK/comps"
n_comps=$(wc -l <"$WORK/comps")
[ "$n_comps" -ge 9 ] && pass "check: $n_comps bundled components listed" ||
  fail "check: only $n_comps bundled components listed"
while read -r kind name; do
  all=$LOSS_CHECKS
  [ "$kind" = optimizer ] && all=$OPT_CHECKS
  got=$(awk -v k="$kind" -v n="$name" '$1 == "PASS" && $2 == k && $3 == n { print $4 }' \
    "$WORK/out" | sort -u | tr '\n' ' ' | sed 's/ $//')
  eq "check: $kind $name passes every check" "$got" "$(sorted "$all")"
done <"$WORK/comps"
eq "check: no FAIL row" "$(grep -c '^FAIL' "$WORK/out")" 0

run cross_entropy
eq "check cross_entropy: exit status" "$rc" 0
eq "check cross_entropy: rows are cross_entropy's" \
  "$(awk '$1 == "PASS" || $1 == "FAIL" { print $2, $3 }' "$WORK/out" | sort -u)" \
  "loss cross_entropy"
eq "check cross_entropy: one row per check (grad-fd: 3)" "$(grep -c '^PASS' "$WORK/out")" 18

sgd=$(find "$PLUG" -name sgd.so | head -n 1)
run "$sgd"
eq "check FILE (sgd.so): exit status" "$rc" 0
expect_fails sgd optimizer ""

# ---- broken plugins: each flagged by the right check -------------------------------

run "$DIR/bad_sign.so"
eq "bad_sign: exit status" "$rc" 1
expect_fails bad_sign loss "grad-fd"
eq "bad_sign: all three grad-fd rows fail" "$(grep -c '^FAIL .* bad_sign  *grad-fd' "$WORK/out")" 3

run "$DIR/no_mean.so"
eq "no_mean: exit status" "$rc" 1
expect_fails no_mean loss "scale-1/N grad-fd"
has "no_mean: scale-1/N names the ratio N" "$WORK/out" "(ratio 8)"
has "no_mean: grad-fd fails at N=64" "$WORK/out" "N=64"

run "$DIR/nan_big.so"
eq "nan_big: exit status" "$rc" 1
expect_fails nan_big loss "finite"
detail nan_big finite | grep -q '+-1e3 logits' && pass "nan_big: finite names the +-1e3 logits" ||
  fail "nan_big: finite names the +-1e3 logits"

run "$DIR/rng_sneak.so"
eq "rng_sneak: exit status" "$rc" 1
expect_fails rng_sneak loss "services"

run "$DIR/shared_state.so"
eq "shared_state: exit status" "$rc" 1
expect_fails shared_state optimizer "no-shared-state"

run "$DIR/sneaky_eval.so"
eq "sneaky_eval: exit status" "$rc" 1
expect_fails sneaky_eval optimizer "services"
has "sneaky_eval: names the undeclared service" "$WORK/out" "undeclared: TB_SERVICE_EVAL"

run "$DIR/svc_user.so"
eq "svc_user (uses rng, eval, jvp as declared): exit status" "$rc" 0
expect_fails svc_user optimizer ""
detail svc_user services | grep -Eq 'eval [1-9][0-9]*, jvp [1-9][0-9]*, next_batch 0, report 0, base 0, rng yes' &&
  pass "svc_user: its eval, jvp and rng use are counted" ||
  fail "svc_user: its eval, jvp and rng use are counted"

run "$DIR/row_mismatch.so"
eq "row_mismatch: exit status" "$rc" 1
expect_fails row_mismatch loss "row-form"
has "row_mismatch: row-form compares the row loop with eval" "$WORK/out" "row loop vs eval"

run "$DIR/bad_tensor_grad.so"
eq "bad_tensor_grad: exit status" "$rc" 1
expect_fails bad_tensor_grad loss "tensor-fd"
has "bad_tensor_grad: tensor-fd names the tensor" "$WORK/out" "worst at loss.log_temperature[0]"

run "$DIR/eval_update.so"
eq "eval_update: exit status" "$rc" 1
expect_fails eval_update loss "phase"
detail eval_update phase | grep -q 'stateful .*the state moved outside TRAIN' &&
  pass "eval_update: phase says its state moved outside TRAIN" ||
  fail "eval_update: phase says its state moved outside TRAIN"

run "$DIR/sneaky_report.so"
eq "sneaky_report: exit status" "$rc" 1
expect_fails sneaky_report optimizer "services"
has "sneaky_report: names the refused report" "$WORK/out" \
  "report call(s) a run refuses: report without declaring TB_SERVICE_REPORT"

run "$DIR/eval_moves.so"
eq "eval_moves: exit status" "$rc" 1
expect_fails eval_moves optimizer "eval-params"
has "eval_moves: says asking moved the training" "$WORK/out" "asking eval_params moved the training"

run "$DIR/requires_ids.so"
eq "requires_ids (sample ids, which every run provides): passes every check" "$rc" 0
has "requires_ids: its requires row" "$WORK/out" "requires_ids"
run "$DIR/requires_unknown.so"
eq "requires_unknown: exit status" "$rc" 1
has "requires_unknown: the loader's reason" "$WORK/out" \
  "loss 'requires_unknown' requires what this trainbench does not know (flags 0x80)"

run "$DIR/bad_scale.so"
eq "bad_scale: exit status" "$rc" 1
expect_fails bad_scale loss "head-scale"
has "bad_scale: head-scale names the refused answer" "$WORK/out" \
  "loss 'bad_scale' reported the cosine head's scale 0"
detail bad_scale requires | grep -q 'a cosine head' &&
  pass "bad_scale: requires says the checks feed it cosines" ||
  fail "bad_scale: requires says the checks feed it cosines"

# ---- composition: wrappers that misuse their base ----------------------------------------

run "$DIR/base_undeclared.so"
eq "base_undeclared: exit status" "$rc" 1
expect_fails base_undeclared optimizer "services composition"
has "base_undeclared: names the undeclared call" "$WORK/out" \
  "optimizer 'base_undeclared' called step_base without declaring TB_SERVICE_BASE"

run "$DIR/base_bad_slot.so"
eq "base_bad_slot: exit status" "$rc" 1
expect_fails base_bad_slot optimizer "services composition"
has "base_bad_slot: names the slot" "$WORK/out" "called step_base with slot 0, which is not"

run "$DIR/base_ignored.so"
eq "base_ignored: exit status" "$rc" 1
expect_fails base_ignored optimizer "composition"
has "base_ignored: says the base never ran" "$WORK/out" "the base never ran (step_base not called)"

run "$DIR/lbase_undeclared.so"
eq "lbase_undeclared: exit status" "$rc" 1
expect_fails lbase_undeclared loss "services composition"
has "lbase_undeclared: names the undeclared call" "$WORK/out" \
  "loss 'lbase_undeclared' called eval_base without declaring TB_SERVICE_BASE"

run "$DIR/lbase_ignored.so"
eq "lbase_ignored: exit status" "$rc" 1
expect_fails lbase_ignored loss "composition"

for w in lookahead ema; do
  run "$w"
  eq "$w: exit status" "$rc" 0
  expect_fails $w optimizer ""
  detail $w composition | grep -Eq "over 'adam' \(20 base calls\), then over 'sgd' \(20\): 1340 of 1340" &&
    pass "$w: runs adam in every step, and follows the base swapped for sgd" ||
    fail "$w: runs adam in every step, and follows the base swapped for sgd"
done
run logit_clip
eq "logit_clip: exit status" "$rc" 0
expect_fails logit_clip loss ""
detail logit_clip composition | grep -q "over 'cross_entropy' (3 base calls), then over 'brier' (3): 3 of 3" &&
  pass "logit_clip: runs cross_entropy in every call, and follows the base swapped for brier" ||
  fail "logit_clip: runs cross_entropy in every call, and follows the base swapped for brier"


# ---- the run-time services used right (tests/plugins/rt_*.c) --------------------------

run "$TB_TEST_PLUGINS/rt_losses.so" "$TB_TEST_PLUGINS/rt_optimizers.so"
eq "rt plugins: exit status" "$rc" 0
for l in rt_temp_ce rt_dual_cap rt_ema_ce rt_sqmean_ce; do expect_fails $l loss ""; done
for o in rt_avg_sgd rt_esgd_probe; do expect_fails $o optimizer ""; done
detail rt_ema_ce phase | grep -q 'stateful (two identical TRAIN calls differ)' &&
  pass "rt_ema_ce: phase sees a stateful loss, and passes it" ||
  fail "rt_ema_ce: phase sees a stateful loss, and passes it"
detail rt_temp_ce phase | grep -q 'stateless' && pass "rt_temp_ce: phase says stateless" ||
  fail "rt_temp_ce: phase says stateless"
eq "rt_sqmean_ce: the per-sample checks are skipped, and say why" \
  "$(awk '$3 == "rt_sqmean_ce" && /skipped: TB_LOSS_NOT_MEAN/ { print $4 }' "$WORK/out" | tr '\n' ' ')" \
  "scale-1/N zero-weight "
detail rt_temp_ce tensor-fd | grep -q 'dtensors of loss.log_temperature' &&
  pass "rt_temp_ce: tensor-fd checks its temperature" ||
  fail "rt_temp_ce: tensor-fd checks its temperature"
detail rt_dual_cap tensor-fd | grep -q 'dtensors of loss.lambda' &&
  pass "rt_dual_cap: tensor-fd checks its dual variable" ||
  fail "rt_dual_cap: tensor-fd checks its dual variable"
detail rt_temp_ce row-form | grep -q 'row form only' &&
  pass "rt_temp_ce: a row-only loss goes through the row checks" ||
  fail "rt_temp_ce: a row-only loss goes through the row checks"
detail rt_avg_sgd eval-params | grep -q '80 own value arrays' &&
  pass "rt_avg_sgd: eval-params asked its averages" || fail "rt_avg_sgd: eval-params asked its averages"
detail rt_esgd_probe services | grep -q 'next_batch 40, report 20' &&
  pass "rt_esgd_probe: its next_batch and report calls are counted" ||
  fail "rt_esgd_probe: its next_batch and report calls are counted"

run "$DIR/crash_step.so"
eq "crash_step: exit status" "$rc" 1
expect_fails crash_step optimizer \
  "zero-grad tiny-grad huge-grad deterministic no-shared-state quadratic services"
detail crash_step zero-grad | grep -q 'crashed: .*SEGV' && pass "crash_step: zero-grad says SEGV" ||
  fail "crash_step: zero-grad says SEGV"
tail -n 1 "$WORK/out" | grep -Eq '^13 checks, 7 failed$' &&
  pass "crash_step: the checker went on" ||
  fail "crash_step: the checker went on"

t0=$(date +%s)
run --timeout 3 "$DIR/hang_step.so"
t1=$(date +%s)
eq "hang_step: exit status" "$rc" 1
expect_fails hang_step optimizer \
  "zero-grad tiny-grad huge-grad deterministic no-shared-state quadratic eval-params services composition"
detail hang_step zero-grad | grep -q 'timed out' && pass "hang_step: zero-grad timed out" ||
  fail "hang_step: zero-grad timed out"
detail hang_step quadratic | grep -q 'not run' && pass "hang_step: later checks not run" ||
  fail "hang_step: later checks not run"
[ $((t1 - t0)) -lt 30 ] && pass "hang_step: killed after the time limit ($((t1 - t0)) s)" ||
  fail "hang_step: took $((t1 - t0)) s"

# ---- files that do not load --------------------------------------------------------

printf 'not a plugin\n' >"$WORK/text.so"
run "$WORK/text.so" "$DIR/no_entry.so" "$WORK/missing.so"
eq "unloadable files: exit status" "$rc" 1
eq "unloadable files: three FAIL load rows" \
  "$(awk '$1 == "FAIL" && $2 == "plugin" && $4 == "load"' "$WORK/out" | wc -l)" 3
has "text file: loader's reason" "$WORK/out" "not a shared object (no ELF header)"
has "no entry point: loader's reason" "$WORK/out" \
  "no entry point: symbol 'tb_plugin_entry' not found"
has "missing file: loader's reason" "$WORK/out" "cannot open"
has "a load row names the file" "$WORK/out" "$WORK/text.so"

# a rejected file on the search path is reported by the run without arguments
mkdir "$WORK/path"
cp "$WORK/text.so" "$WORK/path/broken.so"
TRAINBENCH_PLUGIN_PATH="$WORK/path" run
eq "rejected file on the path: exit status" "$rc" 1
eq "rejected file on the path: its load row is the one failure" \
  "$(awk '$1 == "FAIL" { print $2, $3, $4 }' "$WORK/out")" "plugin $WORK/path/broken.so load"

# ---- mixed arguments ------------------------------------------------------------------

run cross_entropy "$DIR/bad_sign.so" cross_entropy
eq "name + file: exit status" "$rc" 1
eq "name + file: cross_entropy checked once, bad_sign too" \
  "$(awk '$1 == "PASS" || $1 == "FAIL" { print $3 }' "$WORK/out" | sort | uniq -c |
    awk '{ print $2 "=" $1 }' | tr '\n' ' ')" \
  "bad_sign=18 cross_entropy=18 "

# ---- unique names --------------------------------------------------------------------

mkdir "$WORK/shadow"
ce=$(find "$PLUG" -name cross_entropy.so | head -n 1)
cp "$ce" "$WORK/shadow/"
TRAINBENCH_PLUGIN_PATH="$WORK/shadow" run cross_entropy
eq "shadowing copy on the path: exit status" "$rc" 1
expect_fails cross_entropy loss "unique"
has "shadowing copy: unique names the other file" "$WORK/out" "$ce"
run "$WORK/shadow/cross_entropy.so"
eq "copy given as a file: exit status" "$rc" 1
expect_fails cross_entropy loss "unique"

# ---- usage ---------------------------------------------------------------------------

run --help
eq "--help: exit status" "$rc" 0
has "--help: usage" "$WORK/out" "usage: trainbench check"
run --bogus
eq "unknown option: exit status" "$rc" 2
run --timeout 0 cross_entropy
eq "--timeout 0: exit status" "$rc" 2
run no_such_plugin
eq "unknown name: exit status" "$rc" 2
has "unknown name: message" "$WORK/err" "no loss or optimizer named 'no_such_plugin'"
has "unknown name: lists the valid names" "$WORK/err" "cross_entropy"

# ---- leaks under LeakSanitizer (ASan builds) -----------------------------------------

case "${TB_SANITIZE:-none}" in
*address*)
  ASAN_OPTIONS=detect_leaks=1 run "$DIR/leaky.so" cross_entropy sgd
  eq "LeakSanitizer: leaky fails, the bundled pass (exit status)" "$rc" 1
  eq "LeakSanitizer: the leak fails leaky's exit row" "$(checks_of FAIL leaky)" "exit"
  eq "LeakSanitizer: nothing in cross_entropy" "$(checks_of FAIL cross_entropy)" ""
  eq "LeakSanitizer: nothing in sgd" "$(checks_of FAIL sgd)" ""
  ;;
*)
  run "$DIR/leaky.so"
  eq "leaky without a leak checker: exit status" "$rc" 0
  ;;
esac

echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
