#!/bin/sh
# Plugins that segfault, abort, call exit(0), hang, print garbage or diverge:
# each run is recorded with its status and reason and the sweep continues;
# a rerun retries crashed and timed-out runs but not complete or diverged ones.
. "$(dirname "$0")/lib.sh"
DB="$WORK/f.db"
mkdir -p "$WORK/plugins"
cp "$TB_TEST_PLUGINS/faulty.so" "$WORK/plugins/"
export TRAINBENCH_PLUGIN_PATH="$WORK/plugins"

out=$("$TB" run "$E2E/faults.lua" --db "$DB" -j 2 --timeout 3 2>&1)
eq "crashed, timed-out runs: exit status 3" "$?" 3
has "and it says why" "$out" "5 runs crashed, timed out or failed"
st() { q "$DB" "SELECT status FROM runs WHERE optimizer = '$1' AND loss = '${2:-cross_entropy}'"; }
err() { q "$DB" "SELECT error FROM runs WHERE optimizer = '$1' AND loss = '${2:-cross_entropy}'"; }
eq "healthy run complete" "$(st sgd)" complete
eq "segfault -> crashed" "$(st fault_segv)" crashed
has "segfault reason" "$(err fault_segv)" "SEGV"
eq "abort -> crashed" "$(st fault_abort)" crashed
has "abort reason" "$(err fault_abort)" "signal 6"
eq "exit(0) -> crashed" "$(st fault_exit0)" crashed
has "exit(0) reason" "$(err fault_exit0)" "exited with status 0 before the end of the run"
eq "hang -> timeout" "$(st fault_hang)" timeout
has "timeout reason" "$(err fault_hang)" "after 3 s"
eq "garbage on stdout/stderr does not fool the result pipe" "$(st fault_garbage)" complete
eq "a random draw without declaring TB_SERVICE_RNG fails the run" "$(st fault_rng)" failed
has "naming the optimizer and what it did" "$(err fault_rng)" "optimizer 'fault_rng' drew a random number without declaring TB_SERVICE_RNG"
eq "garbage run has all its epochs" "$(q "$DB" "SELECT max(epoch) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.optimizer = 'fault_garbage'")" 3
eq "NaN loss -> diverged" "$(st sgd fault_nan)" diverged
has "diverged reason" "$(err sgd fault_nan)" "training loss is NaN"
eq "crashed runs keep the metrics sent before the crash" "$(q "$DB" "SELECT count(*) > 0 FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.optimizer = 'fault_segv' AND m.epoch = 0")" 1
eq "no orphan workers" "$(pgrep -f "$E2E/faults.lua" | wc -l)" 0
# a diverged run is a result, but its last numbers (epoch 0 here) are not
eq "diverged: final values are flagged, not numbers" "$(q "$DB" "SELECT group_concat(DISTINCT coalesce(f.value, 'null') || ' ' || f.flag) FROM final_metrics f JOIN runs r ON r.id = f.run_id WHERE r.loss = 'fault_nan'")" "null diverged"
eq "diverged: no value in the results view" "$(q "$DB" "SELECT coalesce(\"val.accuracy\", 'null') FROM results WHERE loss = 'fault_nan'")" null
eq "diverged: the training loss series ends at the diverging step" "$(q "$DB" "SELECT max(step) || ' ' || (SELECT flag FROM series s2 WHERE s2.run_id = s.run_id ORDER BY step DESC LIMIT 1) FROM series s JOIN runs r ON r.id = s.run_id WHERE r.loss = 'fault_nan'")" "2 nan"
out=$("$TB" summary --db "$DB" --scenario diverge 2>&1 | tr -s ' ')
has "summary counts it as diverged, without accuracies (n 0, diverged 1)" "$out" "diverge fault_nan sgd 0 0 1 0"
out=$("$TB" runs --db "$DB" --status diverged 2>&1)
has "runs --status diverged lists it" "$out" "training loss is NaN"
sed -n '/name = "diverge"/,$p' "$E2E/faults.lua" | sed '1s/^/local tb = require "trainbench"\ntb.scenario {\n/' > "$WORK/diverge.lua"
"$TB" run "$WORK/diverge.lua" --db "$WORK/d.db" >/dev/null 2>&1
eq "a sweep whose runs only diverge exits 0" "$?" 0

out=$("$TB" run "$E2E/faults.lua" --db "$DB" -j 2 --timeout 3 2>&1)
has "rerun retries crashed, timeout and failed runs only" "$out" "5 runs to do, 3 already recorded"
eq "still one row per configuration" "$(q "$DB" "SELECT count(*) FROM runs")" 8
eq "integrity_check" "$(q "$DB" "PRAGMA integrity_check")" ok

# under AddressSanitizer a heap overflow in a plugin is a crash whose reason is the report
case "${TB_SANITIZE:-none}" in
  *address*)
    sed 's/"fault_rng" }/"fault_overflow" }/; s/name = "faults"/name = "asan"/' "$E2E/faults.lua" > "$WORK/asan.lua"
    "$TB" run "$WORK/asan.lua" --db "$DB" -j 2 --timeout 3 >/dev/null 2>&1
    eq "ASan report -> crashed" "$(q "$DB" "SELECT status FROM runs WHERE scenario = 'asan' AND optimizer = 'fault_overflow'")" crashed
    has "with the report as the reason" "$(q "$DB" "SELECT error FROM runs WHERE scenario = 'asan' AND optimizer = 'fault_overflow'")" "AddressSanitizer: heap-buffer-overflow"
    ;;
esac
done_checks
