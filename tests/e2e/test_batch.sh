#!/bin/sh
# Finished runs are recorded in batches (one transaction for the runs that
# end within TRAINBENCH_COMMIT_SECONDS of each other) and reported only once
# committed. kill -9 at moments tied to progress: every run the sweep reported
# as done is in the database, complete and whole, nothing half-recorded, and a
# rerun finishes the rest. SIGTERM and SIGHUP commit the open batch before
# the sweep dies of them (checked with a window no batch reaches by itself).
. "$(dirname "$0")/lib.sh"

lines_at_least() { [ "$(grep -c '^\[' "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }
no_workers() { [ "$(pgrep -f "$1" | wc -l)" -eq 0 ]; }
# the sweep's parent and the long run's worker only, once the sweep has started
only_long_left() { [ "$(pgrep -f "$1" | wc -l)" -eq 2 ] && grep -q 'sweep: 2 runs to do' "$2"; }

# Each reported run, "[k/N] complete   batch LOSS/adam lr=LR seed=S  ...", must be
# a complete run in the database: prints the ones that are not.
missing() { # missing DB OUTPUT
  grep '^\[[0-9]*/[0-9]*\] complete' "$2" |
    sed -n 's|.* batch \([a-z_]*\)/adam lr=\([0-9.e-]*\) seed=\([0-9]*\) .*|\1 \2 \3|p' |
    while read -r loss lr seed; do
      n=$(q "$1" "SELECT count(*) FROM results WHERE loss = '$loss' AND \"optimizer.lr\" = $lr
                  AND seed = $seed AND status = 'complete'")
      [ "$n" = 1 ] || echo "$loss lr=$lr seed=$seed"
    done
}

round=0
for target in 0 1 15 40 80; do
  round=$((round + 1))
  DB="$WORK/b$round.db"
  OUT="$WORK/b$round.out"
  "$TB" run "$E2E/batch.lua" --db "$DB" -j 2 >/dev/null 2>"$OUT" &
  pid=$!
  if [ "$target" -eq 0 ]; then # the sweep has started, nothing is recorded yet
    ok "round $round: the sweep starts" within 60 grep -q '^sweep: 120 runs to do' "$OUT"
  else
    ok "round $round: the sweep reports $target runs" within 120 lines_at_least "$OUT" "$target"
  fi
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  ok "round $round: no workers left after kill -9" within 10 no_workers "$E2E/batch.lua"
  reported=$(grep -c '^\[[0-9]*/[0-9]*\] complete' "$OUT")
  eq "round $round: every run reported done ($reported) is recorded, complete" \
    "$(missing "$DB" "$OUT")" ""
  eq "round $round: integrity_check" "$(q "$DB" "PRAGMA integrity_check")" ok
  eq "round $round: recorded runs are whole (4 epochs x 3 splits x 9 metrics, confusion counts)" \
    "$(q "$DB" "SELECT count(*) FROM runs r WHERE (SELECT count(*) FROM metrics m WHERE m.run_id = r.id) != 108
                OR (SELECT count(*) FROM confusion c WHERE c.run_id = r.id) = 0
                OR (SELECT count(*) FROM series_info s WHERE s.run_id = r.id) = 0")" 0
  ok "round $round: at least as many runs recorded as reported" \
    [ "$(q "$DB" "SELECT count(*) FROM runs WHERE status = 'complete'")" -ge "$reported" ]
done
"$TB" run "$E2E/batch.lua" --db "$WORK/b3.db" -j 2 >/dev/null 2>&1
eq "a rerun after the kill finishes the sweep: every run complete exactly once" \
  "$(q "$WORK/b3.db" "SELECT count(*) || ' ' || count(DISTINCT config_hash) FROM runs WHERE status = 'complete'")" "120 120"

# SIGTERM and SIGHUP: the runs that ended are committed before the sweep dies
# of the signal, even though the window (1000 s) would have held them
for sig in TERM:15 HUP:1; do
  num=${sig#*:}
  sig=${sig%:*}
  DB="$WORK/stop-$sig.db"
  OUT="$WORK/stop-$sig.out"
  TRAINBENCH_COMMIT_SECONDS=1000 "$TB" run "$E2E/batch_stop.lua" --db "$DB" -j 2 >/dev/null 2>"$OUT" &
  pid=$!
  # the parent and the long run's worker are left once the quick run has ended
  ok "SIG$sig: the quick run ends first" within 60 test -f "$DB"
  ok "SIG$sig: ... and only the long one is left" within 60 only_long_left "$E2E/batch_stop.lua" "$OUT"
  eq "SIG$sig: nothing reported yet (the window holds the batch)" \
    "$(grep -c '^\[' "$OUT")" 0
  kill -"$sig" "$pid"
  wait "$pid"
  status=$?
  eq "SIG$sig: the sweep dies of the signal" "$status" "$((128 + num))"
  ok "SIG$sig: its workers with it" within 10 no_workers "$E2E/batch_stop.lua"
  eq "SIG$sig: the quick run was committed first" \
    "$(q "$DB" "SELECT group_concat(scenario || ' ' || status) FROM runs")" "quick complete"
  has "SIG$sig: ... and reported" "$(cat "$OUT")" "[1/2] complete quick cross_entropy/sgd"
done

out=$(TRAINBENCH_COMMIT_SECONDS=soon "$TB" run "$E2E/batch.lua" --db "$WORK/bad.db" 2>&1)
eq "a bad TRAINBENCH_COMMIT_SECONDS stops the run (status 1)" "$?" 1
has "... and says what it wants" "$out" "TRAINBENCH_COMMIT_SECONDS must be a number of seconds >= 0, got 'soon'"
TRAINBENCH_COMMIT_SECONDS=0 "$TB" run "$E2E/batch.lua" --db "$WORK/zero.db" -j 2 >/dev/null 2>&1
eq "TRAINBENCH_COMMIT_SECONDS=0: every run recorded" \
  "$(q "$WORK/zero.db" "SELECT count(*) FROM runs WHERE status = 'complete'")" 120
done_checks
