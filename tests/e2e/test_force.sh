#!/bin/sh
# `run --force` (issue 10): a forced attempt replaces a recorded result only
# when it is a result itself (complete, diverged) — one that crashes or
# times out leaves the recorded run as it was, says so, and exits 3 — and an
# interrupted forced sweep (kill -9, SIGTERM) is resumed by the next
# `run --force` of the same script: the runs it redid are not redone.
. "$(dirname "$0")/lib.sh"
FP="$TB_BUILD_ROOT/tests/plugins/fp"
DB="$WORK/f.db"
mkdir -p "$WORK/p"
export TRAINBENCH_PLUGIN_PATH="$WORK/p"

# every value a run keeps, to the last bit, in a fixed order
dump() {
  q "$1" "SELECT group_concat(x, ';') FROM (
    SELECT 'r ' || id || ' ' || config_hash || ' ' || status || ' ' || printf('%.17e %.17e', started_at, finished_at) || ' ' || coalesce(error, '-') AS x FROM runs
    UNION ALL SELECT 'm ' || run_id || ' ' || epoch || ' ' || split || ' ' || name || ' ' || coalesce(printf('%.17e', value), flag) FROM metrics
    UNION ALL SELECT 'f ' || run_id || ' ' || split || ' ' || name || ' ' || coalesce(printf('%.17e', value), flag) FROM final_metrics
    UNION ALL SELECT 'b ' || run_id || ' ' || split || ' ' || name || ' ' || coalesce(printf('%.17e', value), flag) FROM best_metrics
    UNION ALL SELECT 's ' || run_id || ' ' || name || ' ' || step || ' ' || coalesce(printf('%.17e', value), flag) FROM series
    UNION ALL SELECT 'q ' || run_id || ' ' || split || ' ' || true_class || ' ' || pred_class || ' ' || count FROM confusion
    UNION ALL SELECT 'c ' || run_id || ' ' || split || ' ' || bin || ' ' || count || ' ' || correct FROM calibration
    UNION ALL SELECT 't ' || run_id || ' ' || epoch || ' ' || printf('%.17e', seconds) FROM timings
    UNION ALL SELECT 'p ' || run_id || ' ' || component || ' ' || key || ' ' || value FROM params
    ORDER BY x)"
}

# ---- (a) a forced attempt that dies keeps the recorded run -----------------
cp "$FP/fp_base.so" "$WORK/p/fp.so"
"$TB" run "$E2E/force.lua" --db "$DB" -j 2 >/dev/null 2>&1
eq "the sweep runs" "$?" 0
eq "4 complete runs" "$(q "$DB" "SELECT count(*) FROM runs WHERE status = 'complete'")" 4
before=$(dump "$DB")

# the same plugin, name and version, rebuilt to crash at step 20 (after the
# fingerprint probe's 6 steps, so the probe takes it for the same numbers)
cp "$FP/fp_crash.so" "$WORK/p/fp.so"
out=$("$TB" run "$E2E/force.lua" --db "$DB" -j 2 --force 2>&1)
eq "a forced sweep whose attempts crash exits 3" "$?" 3
has "each run's line says the recorded run stays, and why" "$out" "] crashed  force fp_loss/fp_opt data=iris seed=1 ("
has "... in its own words" "$out" "kept the recorded complete run: the new attempt crashed: worker"
# a plain build: "killed by signal 11 (SIGSEGV ...)"; under ASan the
# sanitizer's report: "... SUMMARY: AddressSanitizer: SEGV ..."
has "... with the crash" "$out" "SEGV"
has "the end of the sweep says so" "$out" "4 forced attempts crashed, timed out or failed: kept the complete or diverged runs recorded before them"
has "and counts them" "$out" "4 crashed, timed out or failed, 4 of them kept as recorded"
case "$out" in *"a rerun retries them"*) r=1 ;; *) r=0 ;; esac
eq "without promising a retry that a plain rerun would not make" "$r" 0
ok "every row of the recorded runs is as it was, to the last bit" [ "$(dump "$DB")" = "$before" ]
eq "the forced sweep is recorded as forced and finished" "$(q "$DB" "SELECT forced || ' ' || (finished_at IS NOT NULL) FROM sweeps ORDER BY id DESC LIMIT 1")" "1 1"
out=$("$TB" run "$E2E/force.lua" --db "$DB" -j 2 2>&1)
has "a plain rerun skips them: they are complete" "$out" "0 runs to do, 4 already recorded"

# one that hangs: the timeout kills it, and the recorded run stays
cp "$FP/fp_hang.so" "$WORK/p/fp.so"
out=$("$TB" run "$E2E/force.lua" --db "$DB" -j 4 --force --timeout 2 2>&1)
eq "a forced sweep whose attempts time out exits 3" "$?" 3
has "saying so" "$out" "kept the recorded complete run: the new attempt timed out after 2 s"
ok "every row as it was after the timeouts too" [ "$(dump "$DB")" = "$before" ]
eq "integrity_check" "$(q "$DB" "PRAGMA integrity_check")" ok

# a run recorded crashed is replaced by a crash as before (its reason is the new one)
"$TB" rm --db "$DB" --where "seed = 2" >/dev/null 2>&1
cp "$FP/fp_crash.so" "$WORK/p/fp.so"
"$TB" run "$E2E/force.lua" --db "$DB" -j 2 >/dev/null 2>&1
eq "the runs it lacks crash (exit 3)" "$?" 3
t1=$(q "$DB" "SELECT group_concat(printf('%.6f', started_at)) FROM runs WHERE status = 'crashed'")
out=$("$TB" run "$E2E/force.lua" --db "$DB" -j 2 --force 2>&1)
eq "forced again: still exit 3" "$?" 3
has "the crashed runs are retried as by any rerun" "$out" "2 runs crashed, timed out or failed (see \`trainbench runs --status ...\`); a rerun retries them"
has "the complete ones are kept" "$out" "2 forced attempts crashed, timed out or failed: kept"
ok "and the crashed rows are the new attempts" [ "$(q "$DB" "SELECT group_concat(printf('%.6f', started_at)) FROM runs WHERE status = 'crashed'")" != "$t1" ]

# ---- (b) a forced attempt that completes replaces the row ------------------
cp "$FP/fp_base.so" "$WORK/p/fp.so"
"$TB" run "$E2E/force.lua" --db "$DB" -j 2 >/dev/null 2>&1
old=$(q "$DB" "SELECT group_concat(config_hash || ' ' || id || ',', '') FROM runs")
latest=$(q "$DB" "SELECT printf('%.6f', max(started_at)) FROM runs")
hashes=$(q "$DB" "SELECT group_concat(config_hash) FROM (SELECT config_hash FROM runs ORDER BY config_hash)")
out=$("$TB" run "$E2E/force.lua" --db "$DB" -j 2 --force 2>&1)
eq "a forced sweep that completes exits 0" "$?" 0
has "redoing all 4" "$out" "4 runs done (4 complete, 0 diverged, 0 crashed, timed out or failed)"
eq "the same configurations" "$(q "$DB" "SELECT group_concat(config_hash) FROM (SELECT config_hash FROM runs ORDER BY config_hash)")" "$hashes"
eq "each row replaced by the new attempt's (a new id)" "$(q "$DB" "SELECT count(*) FROM runs WHERE instr('$old', config_hash || ' ' || id || ',') = 0")" 4
eq "started after the runs it replaced" "$(q "$DB" "SELECT count(*) FROM runs WHERE started_at > $latest")" 4
eq "one row per configuration" "$(q "$DB" "SELECT count(*) FROM runs")" 4

# ---- (c) kill -9 of a forced sweep, then the same command again ------------
export TRAINBENCH_PLUGIN_PATH=""
K="$WORK/k.db"
S="$E2E/force_kill.lua"
no_workers() { [ "$(pgrep -f "$S" | wc -l)" -eq 0 ]; }
last_forced() { q "$K" "SELECT coalesce(max(id), 0) FROM sweeps WHERE forced = 1"; }
redone_by() { # $1 runs recorded by a forced sweep newer than sweep $2
  [ "$(q "$K" "SELECT count(*) FROM runs WHERE sweep_id = (SELECT max(id) FROM sweeps WHERE forced = 1 AND id > $2)")" -ge "$1" ]
}
runs_of() { # the runs recorded by sweeps $1 (a list), as config hash, id and start
  q "$K" "SELECT group_concat(config_hash || ' ' || id || ' ' || printf('%.17e', started_at), ',') FROM (SELECT * FROM runs WHERE sweep_id IN ($1) ORDER BY config_hash)"
}
"$TB" run "$S" --db "$K" -j 2 >/dev/null 2>&1
eq "24 runs in two scenarios" "$(q "$K" "SELECT count(*) || ' ' || count(DISTINCT scenario) FROM runs WHERE status = 'complete'")" "24 2"
first=$(q "$K" "SELECT max(id) FROM sweeps")

"$TB" run "$S" --db "$K" -j 2 --force >/dev/null 2>&1 &
pid=$!
ok "the forced sweep redoes 6 runs" within 120 redone_by 6 "$first"
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
ok "no workers left after kill -9" within 10 no_workers
s1=$(last_forced)
n1=$(q "$K" "SELECT count(*) FROM runs WHERE sweep_id = $s1")
ok "the kill landed mid-sweep ($n1 of 24 redone)" [ "$n1" -ge 6 ] && [ "$n1" -lt 24 ]
eq "the killed sweep has no end" "$(q "$K" "SELECT finished_at IS NULL FROM sweeps WHERE id = $s1")" 1
redone=$(runs_of "$s1")
untouched=$(runs_of "$first")
eq "integrity_check after the kill" "$(q "$K" "PRAGMA integrity_check")" ok

# (e) --dry-run shows what the resume keeps and what it redoes
out=$("$TB" run "$S" --db "$K" --force --dry-run 2>&1)
eq "--dry-run --force exits 0" "$?" 0
has "it names the sweep it would resume" "$out" "would resume the interrupted --force sweep #$s1 (started "
has "and how many runs it keeps" "$out" "): $n1 runs it redid would be kept"
eq "a skip line for each run the killed sweep redid" "$(printf '%s\n' "$out" | grep -c "^skip .*\[complete by --force sweep #$s1\]")" "$n1"
eq "a run line for each of the others" "$(printf '%s\n' "$out" | grep -c '^run  .*\[complete\]$')" $((24 - n1))
has "and the count" "$out" "$((24 - n1)) runs to do (--force), $n1 kept by the resumed --force sweep (of 24)"
eq "--dry-run changed nothing" "$(runs_of "$s1")" "$redone"

out=$("$TB" run "$S" --db "$K" -j 2 --force 2>&1)
eq "the same run --force again exits 0" "$?" 0
has "it resumes the killed sweep" "$out" "resuming the interrupted --force sweep #$s1 (started "
has "keeping what it redid" "$out" "): $n1 runs it redid are kept"
has "and redoes the rest only" "$out" "sweep: $((24 - n1)) runs to do, $n1 already recorded"
s2=$(last_forced)
eq "the runs redone before the kill were not redone (same ids, same starts)" "$(runs_of "$s1")" "$redone"
eq "the others were" "$(q "$K" "SELECT count(*) FROM runs WHERE sweep_id = $s2")" $((24 - n1))
eq "none is left from before the forced sweeps" "$(q "$K" "SELECT count(*) FROM runs WHERE sweep_id = $first")" 0
eq "every run complete exactly once" "$(q "$K" "SELECT count(*) FROM (SELECT config_hash FROM runs WHERE status = 'complete' GROUP BY config_hash HAVING count(*) = 1)")" 24
eq "24 runs" "$(q "$K" "SELECT count(*) FROM runs")" 24
eq "integrity_check at the end" "$(q "$K" "PRAGMA integrity_check")" ok
eq "the resuming sweep finished" "$(q "$K" "SELECT finished_at IS NOT NULL FROM sweeps WHERE id = $s2")" 1

# ---- (d) after a forced sweep that finished, --force redoes everything ----
out=$("$TB" run "$S" --db "$K" --force --dry-run 2>&1)
case "$out" in *"would resume"*) r=1 ;; *) r=0 ;; esac
eq "--dry-run: nothing to resume" "$r" 0
has "--dry-run: every run to do" "$out" "24 runs to do (--force), 0 kept"
out=$("$TB" run "$S" --db "$K" -j 2 --force 2>&1)
eq "--force after a finished forced sweep exits 0" "$?" 0
case "$out" in *"resuming"*) r=1 ;; *) r=0 ;; esac
eq "resuming nothing" "$r" 0
has "redoing all 24" "$out" "sweep: 24 runs to do, 0 already recorded"
s3=$(last_forced)
eq "every run is the new sweep's" "$(q "$K" "SELECT count(*) FROM runs WHERE sweep_id = $s3 AND status = 'complete'")" 24

# ---- SIGTERM, then kill -9 of the sweep resuming it: both are resumed ------
"$TB" run "$S" --db "$K" -j 2 --force >/dev/null 2>&1 &
pid=$!
ok "a forced sweep redoes 4 runs" within 120 redone_by 4 "$s3"
kill -TERM "$pid"
wait "$pid"
eq "SIGTERM ends it (status 143)" "$?" 143
s4=$(last_forced)
eq "with no end recorded" "$(q "$K" "SELECT finished_at IS NULL FROM sweeps WHERE id = $s4")" 1
n4=$(q "$K" "SELECT count(*) FROM runs WHERE sweep_id = $s4")
"$TB" run "$S" --db "$K" -j 2 --force >/dev/null 2>&1 &
pid=$!
ok "the resuming sweep redoes 4 more" within 120 redone_by 4 "$s4"
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
ok "no workers left" within 10 no_workers
s5=$(last_forced)
n5=$(q "$K" "SELECT count(*) FROM runs WHERE sweep_id IN ($s4, $s5)")
both=$(runs_of "$s4, $s5")
out=$("$TB" run "$S" --db "$K" -j 2 --force 2>&1)
eq "the third run --force exits 0" "$?" 0
has "it resumes both interrupted sweeps" "$out" "resuming the interrupted --force sweep #$s5 (started "
has "naming the one it resumed" "$out" "; it resumed #$s4): $n5 runs they redid are kept"
ok "both redid some ($n4 by the first)" [ "$n5" -gt "$n4" ] && [ "$n5" -lt 24 ]
eq "their runs are not redone" "$(runs_of "$s4, $s5")" "$both"
eq "every run complete exactly once" "$(q "$K" "SELECT count(*) FROM (SELECT config_hash FROM runs WHERE status = 'complete' GROUP BY config_hash HAVING count(*) = 1)")" 24
eq "integrity_check" "$(q "$K" "PRAGMA integrity_check")" ok
out=$("$TB" run "$S" --db "$K" 2>&1)
has "a plain run has nothing to do" "$out" "0 runs to do, 24 already recorded"
done_checks
