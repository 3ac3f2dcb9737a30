#!/bin/sh
# Managing results from the command line: a schema-1 database upgraded in
# place with every run kept and skipped, `runs` and `rm`, the summary of a
# script's latest version, one writer per database file whatever its path,
# and the exit statuses of `run`.
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/plugins"
cp "$TB_TEST_PLUGINS/faulty.so" "$WORK/plugins/"

# ---- a database from trainbench 0.1.0 (schema 1) -------------------------------
DB="$WORK/v1.db"
cp "$SRC/tests/store/fixtures/schema1.db" "$DB"
out=$("$TB" summary --db "$DB" 2>&1)
has "reading an old database says how to upgrade it" "$out" "a \`trainbench run\` on it upgrades it"
out=$(TRAINBENCH_PLUGIN_PATH="$WORK/plugins" "$TB" run "$SRC/tests/store/fixtures/v1.lua" --db "$DB" --dry-run 2>&1)
eq "so does run --dry-run (status 1), rather than list recorded runs as to do" "$?" 1
out=$(TRAINBENCH_PLUGIN_PATH="$WORK/plugins" "$TB" run "$SRC/tests/store/fixtures/v1.lua" --db "$DB" 2>&1)
eq "the old sweep reruns with status 0" "$?" 0
has "it says the database was upgraded" "$out" "upgraded '$DB' from schema 1 to 5; every run is kept"
has "and that its runs were found by their earlier identity" "$out" "10 runs recorded by an earlier trainbench found by their earlier identity and re-keyed on the new one"
has "every run recorded by schema 1 is kept and skipped" "$out" "0 runs to do, 10 already recorded"
eq "schema 5" "$(q "$DB" "PRAGMA user_version")" 5
has "the summary shows label-smoothing variants as rows of their own" "$out" "label_smoothing=0.1 lr=0.1"
has "and marks the tie between two of them" "$out" "= several configurations tie"
out=$("$TB" summary --db "$DB" --scenario v1 --best | tr -s ' ')
has "--best: the best of label smoothing 0" "$out" "label_smoothing=0 lr=0.1 momentum=0 0.6833"
has "--best: and of label smoothing 0.1, tuned apart" "$out" "label_smoothing=0.1 lr=0.1 momentum=0 0.7000"

# ---- runs and rm ---------------------------------------------------------------
DB="$WORK/r.db"
"$TB" run "$E2E/small.lua" --db "$DB" -j 2 >/dev/null 2>&1
out=$("$TB" runs --db "$DB" --scenario small)
has "runs lists each run with what differs from the defaults" "$(printf "%s" "$out" | tr -s " ")" "cross_entropy/sgd lr=0.1 momentum=0.9"
eq "runs --csv: one line per run" "$("$TB" runs --db "$DB" --csv | tail -n +2 | wc -l)" 8
has "finish times print as dates" "$out" "$(date -u +%Y-)"
out=$("$TB" runs --db "$DB" --status bogus 2>&1)
eq "runs --status checks its value (usage error: 2)" "$?" 2
out=$("$TB" rm --db "$DB" --where "loss = 'brier' AND seed = 2" --dry-run)
has "rm --dry-run lists what it would delete" "$out" "would delete 2 runs"
eq "and deletes nothing" "$(q "$DB" "SELECT count(*) FROM runs")" 8
out=$("$TB" rm --db "$DB" --where "loss = 'brier' AND seed = 2")
has "rm deletes" "$out" "deleted 2 runs"
eq "the runs are gone" "$(q "$DB" "SELECT count(*) FROM runs")" 6
eq "with everything that hung off them" "$(q "$DB" "SELECT count(*) FROM metrics WHERE run_id NOT IN (SELECT id FROM runs)")" 0
out=$("$TB" rm --db "$DB" --where "id IN (SELECT id FROM results WHERE \"optimizer.lr\" = 0.01)" --dry-run)
has "conditions on hyperparameters through the results view" "$out" "would delete 3 runs"
out=$("$TB" rm --db "$DB" --where "nope = 1" 2>&1)
eq "a bad condition is an error" "$?" 1
has "naming it" "$out" "bad --where condition 'nope = 1'"
out=$("$TB" rm --db "$DB" 2>&1)
eq "rm without --where is a usage error" "$?" 2
out=$("$TB" run "$E2E/small.lua" --db "$DB" 2>&1)
has "a rerun trains the deleted runs again" "$out" "2 runs to do, 6 already recorded"

# ---- the summary follows the script's latest version ------------------------------
sed 's/lr = 0.01/lr = 0.02/' "$E2E/small.lua" > "$WORK/small2.lua"
"$TB" run "$WORK/small2.lua" --db "$DB" >/dev/null 2>&1
out=$("$TB" summary --db "$DB" --scenario small)
has "summary: the current configurations" "$out" "lr=0.02"
case "$out" in *"lr=0.01 "*) echo "FAIL  summary shows an older version's configuration"; fails=$((fails + 1)) ;; *) echo "ok    summary leaves out the older version's configurations" ;; esac
checks=$((checks + 1))
out=$("$TB" summary --db "$DB" --scenario small --all)
has "summary --all: every recorded configuration" "$out" "lr=0.01"
eq "two versions of the scenario's script" "$(q "$DB" "SELECT count(*) FROM scenarios WHERE name = 'small'")" 2

# ---- one writer per database file, whatever the path ----------------------------------
K="$WORK/k.db"
ln -s "$K" "$WORK/alias.db"
"$TB" run "$E2E/kill.lua" --db "$K" -j 1 >/dev/null 2>&1 &
pid=$!
i=0
while [ "$i" -lt 200 ] && [ "$(q "$K" "SELECT count(*) FROM sweeps" 2>/dev/null)" != 1 ]; do sleep 0.05; i=$((i + 1)); done
out=$("$TB" run "$E2E/kill.lua" --db "$WORK/alias.db" -j 1 2>&1)
eq "a second writer through a symlink is refused (status 1)" "$?" 1
has "naming the holder" "$out" "is in use by another trainbench run (pid $pid)"
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

# ---- a failed write names the run once and stops the sweep (status 1) -------------
cp "$WORK/r.db" "$WORK/w.db"
before=$(q "$WORK/w.db" "SELECT count(*) || ' ' || group_concat(config_hash) FROM runs WHERE status = 'complete'")
python3 -c "
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute(\"CREATE TRIGGER boom BEFORE INSERT ON timings BEGIN SELECT RAISE(ABORT, 'disk on fire'); END\")
c.commit()" "$WORK/w.db"
out=$("$TB" run "$E2E/small.lua" --db "$WORK/w.db" --force -j 1 2>&1)
eq "a sweep that cannot record exits 1" "$?" 1
has "saying why" "$out" "disk on fire"
eq "the run is named once" "$(printf '%s\n' "$out" | grep -o 'cannot record run' | wc -l)" 1
eq "the recorded runs are intact" "$(q "$WORK/w.db" "SELECT count(*) || ' ' || group_concat(config_hash) FROM runs WHERE status = 'complete'")" "$before"

# ---- exit statuses and usage errors -------------------------------------------------------
for c in run summary query runs rm; do
  out=$("$TB" $c --db "" x 2>&1)
  eq "$c --db '': a usage error" "$?" 2
  has "$c --db '' says so" "$out" "--db: empty path"
done
out=$("$TB" run 2>&1)
eq "run without a script: 2" "$?" 2
printf 'local tb = require "trainbench"\ntb.scenario { name = 1 }\n' > "$WORK/bad.lua"
"$TB" run "$WORK/bad.lua" --db "$WORK/bad.db" >/dev/null 2>&1
eq "a bad script: 1" "$?" 1
done_checks
