#!/bin/sh
# kill -9 the sweep at several moments: no completed run is lost, the
# database stays intact, workers die with the parent, and reruns finish the
# sweep with every run complete exactly once. A second writer is refused.
. "$(dirname "$0")/lib.sh"
DB="$WORK/k.db"

no_workers() { [ "$(pgrep -f "$E2E/kill.lua" | wc -l)" -eq 0 ]; }

# a second writer while the first holds the database
"$TB" run "$E2E/kill.lua" --db "$DB" -j 2 >/dev/null 2>&1 &
pid=$!
ok "the first run takes the database" within 20 test -s "$DB"
out=$("$TB" run "$E2E/kill.lua" --db "$DB" 2>&1)
has "a second run on the same database refuses" "$out" "is in use by another trainbench run"
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

# kill -9 at moments tied to progress, not to the clock: before any run is
# recorded, then once 3 and 9 runs are (workers are mid-run each time)
recorded() { [ "$(q "$DB" "SELECT count(*) FROM runs WHERE status = 'complete'")" -ge "$1" ]; }
for target in 0 3 9; do
  "$TB" run "$E2E/kill.lua" --db "$DB" -j 2 >/dev/null 2>&1 &
  pid=$!
  if [ "$target" -eq 0 ]; then
    sleep 0.2
  else
    ok "the sweep reaches $target recorded runs" within 120 recorded "$target"
  fi
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  ok "no workers left after kill -9 (at $target runs)" within 10 no_workers
  if [ -f "$DB" ]; then
    eq "integrity_check after kill at $target runs" "$(q "$DB" "PRAGMA integrity_check")" ok
    eq "recorded runs are whole (all 81 epochs x 3 splits x 9 metrics, final confusion counts)" \
      "$(q "$DB" "SELECT count(*) FROM runs r WHERE r.status = 'complete' AND ((SELECT count(*) FROM metrics m WHERE m.run_id = r.id) != 2187 OR (SELECT count(*) FROM confusion c WHERE c.run_id = r.id) = 0)")" 0
  fi
done
ok "the kills landed mid-sweep (fewer than 24 runs before the final rerun)" [ "$(q "$DB" "SELECT count(*) FROM runs")" -lt 24 ]
"$TB" run "$E2E/kill.lua" --db "$DB" -j 2 >/dev/null 2>&1
eq "after a final rerun: 24 runs" "$(q "$DB" "SELECT count(*) FROM runs")" 24
eq "every run complete exactly once" "$(q "$DB" "SELECT count(*) FROM (SELECT config_hash FROM runs WHERE status = 'complete' GROUP BY config_hash HAVING count(*) = 1)")" 24
eq "integrity_check at the end" "$(q "$DB" "PRAGMA integrity_check")" ok
out=$("$TB" run "$E2E/kill.lua" --db "$DB" 2>&1)
has "nothing left to do" "$out" "0 runs to do, 24 already recorded"
done_checks
