#!/bin/sh
# The fault campaign of issue 10, one test per fault, each against the real
# binary and a real database:
#   kill -9 of `run` at 20 random moments   (the seed is printed: rerun with
#                                            TB_CAMPAIGN_SEED=N to replay)
#   a file size limit (RLIMIT_FSIZE) and a full file system (a small tmpfs;
#                                            as root, skipped otherwise)
#   a corrupted database file, `query` while a sweep writes, a worker killed
# After each: the database passes integrity_check, every run shown as done is
# in it whole, nothing recorded before is lost, the error names the database
# and the cause, and a rerun finishes the sweep. (A crashing, hanging or
# exiting plugin: test_faults.sh; kill -9 at moments tied to progress:
# test_kill.sh; at commit boundaries: test_batch.sh.)
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
S="$E2E/campaign.lua"
RUNS=30
METRICS=2727 # rows of `metrics` of one complete run of campaign.lua

complete() { q "$1" "SELECT count(*) FROM runs WHERE status = 'complete'"; }
# complete runs without all their rows
partial() {
  q "$1" "SELECT count(*) FROM runs r WHERE r.status = 'complete' AND ((SELECT count(*) FROM metrics m WHERE m.run_id = r.id) != $METRICS OR (SELECT count(*) FROM confusion c WHERE c.run_id = r.id) = 0)"
}
shown() { grep -c '^\[[0-9]*/[0-9]*\] complete' "$1"; }
workers_of() { pgrep -f "$S" | wc -l; }
no_workers() { [ "$(workers_of)" -eq 0 ]; }
# whole DB ATTEMPT-LOG BEFORE: the checks after a fault
whole() {
  eq "$4: integrity_check" "$(q "$1" "PRAGMA integrity_check")" ok
  eq "$4: no complete run is missing rows" "$(partial "$1")" 0
  now=$(complete "$1")
  ok "$4: every run shown as done is recorded ($(shown "$2") shown, $now - $3 new)" \
    [ "$((now - $3))" -ge "$(shown "$2")" ]
}

# ---- kill -9 at 20 random moments -------------------------------------------
seed=${TB_CAMPAIGN_SEED:-$(date +%s)}
echo "      kill -9 moments from seed $seed (TB_CAMPAIGN_SEED=$seed replays them)"
DB="$WORK/kill.db"
# the length of a whole sweep here, now: each kill falls at a random fraction
# of what is left of its sweep (a resumed sweep is shorter), so that the
# kills land mid-sweep however fast or loaded the machine is
t0=$(date +%s.%N)
"$TB" run "$S" --db "$WORK/timing.db" -j 2 >/dev/null 2>&1
full=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
echo "      a whole sweep takes ${full}s here"
awk -v seed="$seed" 'BEGIN { srand(seed); for (i = 0; i < 20; i++) printf "%.4f\n", rand() }' > fractions
mid=0
n=0
bad=0
while read -r f; do
  n=$((n + 1))
  before=0
  [ -f "$DB" ] && before=$(complete "$DB")
  d=$(awk -v f="$f" -v t="$full" -v left=$((RUNS - before)) -v all="$RUNS" \
    'BEGIN { printf "%.3f", 0.02 + f * 0.9 * t * left / all }')
  "$TB" run "$S" --db "$DB" -j 2 >/dev/null 2>"attempt.$n" &
  pid=$!
  sleep "$d"
  kill -0 "$pid" 2>/dev/null && mid=$((mid + 1))
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  within 10 no_workers || bad=$((bad + 1))
  if [ -f "$DB" ]; then
    [ "$(q "$DB" "PRAGMA integrity_check")" = ok ] || bad=$((bad + 1))
    [ "$(partial "$DB")" -eq 0 ] || bad=$((bad + 1))
    now=$(complete "$DB")
    [ "$((now - before))" -ge "$(shown "attempt.$n")" ] || {
      echo "      kill $n after ${d}s: $(shown "attempt.$n") shown, $((now - before)) recorded"
      bad=$((bad + 1))
    }
    # a finished sweep starts again, so that every kill can land mid-sweep
    [ "$now" -eq "$RUNS" ] && rm -f "$DB" "$DB-wal" "$DB-shm"
  fi
done < fractions
eq "20 kills: no worker left, integrity_check ok, no run half-written, every run shown recorded" \
  "$bad" 0
ok "at least 15 of the 20 kills landed while the sweep ran ($mid)" [ "$mid" -ge 15 ]
"$TB" run "$S" --db "$DB" -j 2 >/dev/null 2>&1
eq "a rerun after the last kill finishes the sweep" "$(complete "$DB")" "$RUNS"
eq "... each run complete exactly once" \
  "$(q "$DB" "SELECT count(DISTINCT config_hash) FROM runs WHERE status = 'complete'")" "$RUNS"

# ---- a file size limit ------------------------------------------------------
# prlimit(1) sets RLIMIT_FSIZE in bytes; trainbench ignores SIGXFSZ, so a
# write past it fails and SQLite rolls back, instead of the signal killing
# the process without a word
for limit in 120000 300000 1000000; do
  DB="$WORK/fsize$limit.db"
  prlimit --fsize="$limit" "$TB" run "$S" --db "$DB" -j 2 >/dev/null 2>"fsize.$limit"
  eq "files limited to $limit bytes: run stops with status 1" "$?" 1
  has "... naming the database or the part it could not record" "$(tail -n 1 "fsize.$limit")" "cannot "
  has "... and the limit" "$(tail -n 1 "fsize.$limit")" "(ulimit -f)"
  if "$TB" query --db "$DB" "SELECT 1" >/dev/null 2>&1; then
    whole "$DB" "fsize.$limit" 0 "files limited to $limit bytes"
  else # the limit fell while the new database was being made: nothing to show
    eq "files limited to $limit bytes: no run shown as done" "$(shown "fsize.$limit")" 0
    "$TB" run "$S" --db "$DB" -j 2 >/dev/null 2>&1
    eq "... a rerun without the limit makes the database and finishes the sweep" \
      "$(complete "$DB")" "$RUNS"
  fi
done
DB="$WORK/fsize1000000.db"
"$TB" run "$S" --db "$DB" -j 2 >/dev/null 2>&1
eq "without the limit, a rerun finishes that sweep" "$(complete "$DB")" "$RUNS"

# ---- a full file system -----------------------------------------------------
mkdir small
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=600k tmpfs small 2>/dev/null; then
  DB="$WORK/small/full.db"
  "$TB" run "$S" --db "$DB" -j 2 >/dev/null 2>full.err
  eq "a full file system: run stops with status 1" "$?" 1
  has "... saying so" "$(tail -n 1 full.err)" "database or disk is full"
  whole "$DB" full.err 0 "a full file system"
  kept=$(complete "$DB")
  # more room, the files as they are (the database's newest pages are in
  # its WAL: a copy of the .db alone would be an older, torn database)
  mount -o remount,size=64m small
  "$TB" run "$S" --db "$DB" -j 2 >/dev/null 2>&1
  eq "with room again, a rerun keeps its $kept runs and finishes the sweep" "$(complete "$DB")" "$RUNS"
  umount small
else
  echo "skip  a full file system: mounting a small tmpfs needs root (and a kernel that allows it)"
fi

# ---- a corrupted database file ----------------------------------------------
good="$WORK/fsize1000000.db"
cp "$good" bad.db
# garbage over the root page of `runs`, which every command reads (garbage
# in a page nothing reads stays unseen until PRAGMA integrity_check)
page=$(q bad.db "SELECT rootpage FROM sqlite_schema WHERE name = 'runs'")
psize=$(q bad.db "PRAGMA page_size")
dd if=/dev/urandom of=bad.db bs="$psize" seek=$((page - 1)) count=1 conv=notrunc 2>/dev/null
cp bad.db bad-copy.db
for cmd in "summary" "query SELECT id,status,error FROM runs" "run $S"; do
  set -- $cmd
  c=$1; shift
  if [ "$c" = query ]; then
    err=$("$TB" query --db bad.db "$*" 2>&1 >/dev/null)
  else
    err=$("$TB" "$c" "$@" --db bad.db 2>&1 >/dev/null)
  fi
  rc=$?
  ok "a corrupted database: '$c' fails (status $rc)" [ "$rc" -ne 0 ]
  has "... with SQLite's word for it" "$err" "malformed"
  # the reading commands never write (run records its environment before it
  # reads the damaged table: finding damage first would take a full check)
  [ "$c" = run ] || ok "... and leaves the file as it was" cmp bad.db bad-copy.db
done
cp "$good" nohead.db
printf 'this is not SQLite at all, not even its header..........................................' |
  dd of=nohead.db conv=notrunc 2>/dev/null
err=$("$TB" summary --db nohead.db 2>&1 >/dev/null)
ok "a file that is not a database: summary fails" [ $? -ne 0 ]
has "... naming it" "$err" "nohead.db"
has "... and why" "$err" "not a database"

# ---- query while a sweep writes ---------------------------------------------
DB="$WORK/busy.db"
"$TB" run "$S" --db "$DB" -j 2 >/dev/null 2>&1 &
pid=$!
within 30 test -s "$DB"
last=0
unanswered=0
shrank=0
i=0
while [ "$i" -lt 15 ]; do
  c=$("$TB" query --db "$DB" --csv "SELECT count(*) FROM runs WHERE status = 'complete'" 2>&1 | tail -n 1)
  case "$c" in
    '' | *[!0-9]*) unanswered=$((unanswered + 1)) ;;
    *) [ "$c" -lt "$last" ] && shrank=1; last=$c ;;
  esac
  sleep 0.1
  i=$((i + 1))
done
wait "$pid"
eq "15 queries during a sweep: each answered" "$unanswered" 0
eq "... the count of runs never went back" "$shrank" 0
eq "... and the sweep finished undisturbed" "$(complete "$DB")" "$RUNS"

# ---- a worker killed --------------------------------------------------------
DB="$WORK/worker.db"
"$TB" run "$S" --db "$DB" -j 2 >/dev/null 2>worker.err &
pid=$!
# once the sweep has started, the children are workers (before it, they can
# be probes of the plugins' files or numbers, whose death is not a run's)
ok "the sweep starts" within 30 grep -q '^sweep: ' worker.err
ok "a worker is running" within 30 sh -c "pgrep -P $pid >/dev/null"
victim=$(pgrep -P "$pid" | head -n 1)
kill -9 "$victim"
wait "$pid"
eq "a worker killed: the sweep goes on to the end, status 3" "$?" 3
eq "... one run recorded as crashed" "$(q "$DB" "SELECT count(*) FROM runs WHERE status = 'crashed'")" 1
has "... killed by signal 9" "$(q "$DB" "SELECT error FROM runs WHERE status = 'crashed'")" "signal 9"
eq "... the others complete" "$(complete "$DB")" $((RUNS - 1))
"$TB" run "$S" --db "$DB" -j 2 >/dev/null 2>&1
eq "a rerun redoes it" "$(complete "$DB")" "$RUNS"

done_checks
