#!/bin/sh
# A sweep split with `run --shard I/N` and joined with `merge` is the sweep
# run on one machine: every table row for row (db_same.py: up to ids,
# timings and host fields). Shards are a function of the configuration hash
# alone; merge names missing shards (--partial merges anyway), adds nothing
# the second time, keeps a result over a failed run, refuses two different
# results of one configuration naming both databases, and warns when the
# shards ran on different math kernels.
. "$(dirname "$0")/lib.sh"
S="$E2E/shard.lua"
SAME="$E2E/db_same.py"
sql() { # sql DB "STATEMENTS" — written behind trainbench's back
  python3 -c "
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executescript(sys.argv[2])
c.commit()" "$1" "$2"
}
counts() { # every table's row count, ids and all
  python3 -c "
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for (t,) in c.execute(\"SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name\"):
    print(t, c.execute('SELECT count(*) FROM \"%s\"' % t).fetchone()[0])" "$1"
}
runs() { q "$1" "SELECT count(*) FROM runs"; }

# ---- shards: deterministic, disjoint, complete ---------------------------
for i in 1 2 3; do
  "$TB" run "$S" --shard $i/3 --db "$WORK/s$i.db" -j 2 >"$WORK/s$i.out" 2>&1
  eq "shard $i/3 runs" "$?" 0
done
"$TB" run "$S" --db "$WORK/single.db" -j 2 >/dev/null 2>&1
eq "the whole sweep runs on one machine" "$?" 0
n1=$(runs "$WORK/s1.db"); n2=$(runs "$WORK/s2.db"); n3=$(runs "$WORK/s3.db")
eq "the shards hold every run once" "$((n1 + n2 + n3))" 12
has "run says what its shard holds" "$(cat "$WORK/s1.out")" "shard 1/3: $n1 of the script's 12 runs"
all=$( (q "$WORK/s1.db" "SELECT config_hash FROM runs"; q "$WORK/s2.db" "SELECT config_hash FROM runs"
        q "$WORK/s3.db" "SELECT config_hash FROM runs") | sort -u | wc -l)
eq "and no run twice" "$all" 12
eq "a shard records I/N and the script's hash" \
  "$(q "$WORK/s2.db" "SELECT shard_index || '/' || shard_count || ' ' || (script_hash = '$(q "$WORK/single.db" "SELECT script_hash FROM sweeps")') FROM sweeps")" "2/3 1"
eq "a whole run records 1/1" "$(q "$WORK/single.db" "SELECT shard_index || '/' || shard_count FROM sweeps")" "1/1"
# the shard of a run is its hash's: the same runs whatever the script's order
list() { "$TB" run "$1" --dry-run --shard "$2" --db "$WORK/none.db" 2>/dev/null | awk '{print $2}' | sort; }
eq "a reordered script puts each run in the same shard" "$(list "$E2E/small.lua" 1/3)" "$(list "$E2E/small_reordered.lua" 1/3)"
eq "and shard 2 too" "$(list "$E2E/small.lua" 2/4)" "$(list "$E2E/small_reordered.lua" 2/4)"
out=$("$TB" run "$S" --shard 4/3 --db "$WORK/x.db" 2>&1)
eq "--shard 4/3 is a usage error" "$?" 2
has "saying what it expects" "$out" "--shard expects I/N with 1 <= I <= N"

# ---- merge equals the single run, row for row ----------------------------
out=$("$TB" merge "$WORK/m.db" "$WORK/s1.db" "$WORK/s2.db" "$WORK/s3.db" 2>&1)
eq "merge of the three shards" "$?" 0
has "says what it added" "$out" "merge: 12 runs added, 0 replaced"
has "and what the scenario now holds" "$out" "scenario 'shard': 12 configurations, 12 with a result, 0 crashed"
python3 "$SAME" "$WORK/single.db" "$WORK/m.db" >"$WORK/same.out" 2>&1
eq "the merged database equals the single run (every table, row for row)" "$?" 0
has "comparing every table" "$(cat "$WORK/same.out")" "compared 19 tables"
python3 "$SAME" "$WORK/single.db" "$WORK/s1.db" >/dev/null 2>&1
eq "the comparison does see a difference (one shard against the whole)" "$?" 1
eq "the merged sweeps are the three shards" "$(q "$WORK/m.db" "SELECT group_concat(shard_index || '/' || shard_count, ' ') FROM (SELECT * FROM sweeps ORDER BY shard_index)")" "1/3 2/3 3/3"
eq "summary reads it like the single run's" "$("$TB" summary --db "$WORK/m.db" 2>&1)" "$("$TB" summary --db "$WORK/single.db" 2>&1)"
eq "a rerun of the script on the merged database has nothing to do" \
  "$("$TB" run "$S" --db "$WORK/m.db" --dry-run 2>&1 | tail -1)" "0 runs to do, 12 already recorded (of 12)"

# ---- idempotent ---------------------------------------------------------------
before=$(counts "$WORK/m.db")
out=$("$TB" merge "$WORK/m.db" "$WORK/s3.db" "$WORK/s1.db" "$WORK/s2.db" 2>&1)
eq "merging again succeeds" "$?" 0
has "and adds nothing" "$out" "merge: 0 runs added, 0 replaced (a result over a run to retry), 12 already there"
eq "every table keeps its row count" "$(counts "$WORK/m.db")" "$before"
out=$("$TB" merge "$WORK/m.db" "$WORK/s1.db" "$WORK/s1.db" 2>&1)
has "an input given twice is merged once" "$out" "is given twice; merged once"
out=$("$TB" merge "$WORK/m.db" "$WORK/m.db" 2>&1)
eq "the output as an input is an error" "$?" 1
has "saying so" "$out" "is the output database itself"

# ---- missing shards, --partial, completing a partial merge -----------------
out=$("$TB" merge "$WORK/p.db" "$WORK/s1.db" "$WORK/s3.db" 2>&1)
eq "a missing shard stops the merge" "$?" 1
has "naming it" "$out" "shards of '$S' (script hash"
has "by number" "$out" "3 shards) missing: 2/3 (give their databases too, or --partial"
ok "and no database is left where there was none" [ ! -e "$WORK/p.db" ]
out=$("$TB" merge --partial "$WORK/p.db" "$WORK/s1.db" "$WORK/s3.db" 2>&1)
eq "--partial merges anyway" "$?" 0
has "warning about the missing shard" "$out" "warning: shards of '$S'"
eq "with the runs of the shards given" "$(runs "$WORK/p.db")" "$((n1 + n3))"
has "and says what is not run" "$out" "$n2 not run"
out=$("$TB" merge "$WORK/p.db" "$WORK/s2.db" 2>&1)
eq "the last shard alone completes it (the others are in the output)" "$?" 0
python3 "$SAME" "$WORK/single.db" "$WORK/p.db" >/dev/null 2>&1
eq "into the same database as the single run" "$?" 0
out=$("$TB" merge "$WORK/m2.db" "$WORK/s1.db" "$WORK/s2.db" "$WORK/s3.db" "$WORK/single.db" 2>&1)
eq "a whole run merges with the shards of its script" "$?" 0
has "adding each run once" "$out" "merge: 12 runs added, 0 replaced (a result over a run to retry), 12 already there"

# shards of two versions of a script are two incomplete sweeps
{ cat "$S"; echo "-- edited after shard 1 ran"; } >"$WORK/edited.lua"
for i in 2 3; do "$TB" run "$WORK/edited.lua" --shard $i/3 --db "$WORK/e$i.db" -j 2 >/dev/null 2>&1; done
out=$("$TB" merge "$WORK/e.db" "$WORK/s1.db" "$WORK/e2.db" "$WORK/e3.db" 2>&1)
eq "shards of two versions of the script do not merge" "$?" 1
has "the first version lacks shards 2 and 3" "$out" "3 shards) missing: 2/3 3/3"
has "the second lacks shard 1" "$out" "3 shards) missing: 1/3"

# ---- the conflict rule --------------------------------------------------------
cp "$WORK/s2.db" "$WORK/f2.db"
sql "$WORK/f2.db" "UPDATE runs SET status = 'crashed', error = 'killed' WHERE id = (SELECT min(id) FROM runs);"
out=$("$TB" merge "$WORK/c1.db" "$WORK/f2.db" "$WORK/s2.db" "$WORK/s1.db" "$WORK/s3.db" 2>&1)
eq "a crashed run and its complete result merge" "$?" 0
has "the complete result is kept" "$out" "merge: 12 runs added, 0 replaced (a result over a run to retry), $n2 already there"
python3 "$SAME" "$WORK/single.db" "$WORK/c1.db" >/dev/null 2>&1
eq "giving the single run's database" "$?" 0
"$TB" merge "$WORK/c2.db" "$WORK/f2.db" "$WORK/s1.db" "$WORK/s3.db" >/dev/null 2>&1
eq "the crashed run alone is merged" "$(q "$WORK/c2.db" "SELECT count(*) FROM runs WHERE status = 'crashed'")" 1
out=$("$TB" merge "$WORK/c2.db" "$WORK/s2.db" 2>&1)
has "a complete result merged later replaces it" "$out" "merge: 0 runs added, 1 replaced"
eq "leaving no crashed run" "$(q "$WORK/c2.db" "SELECT count(*) FROM runs WHERE status = 'crashed'")" 0
python3 "$SAME" "$WORK/single.db" "$WORK/c2.db" >/dev/null 2>&1
eq "and the single run's database again" "$?" 0
"$TB" merge "$WORK/c2.db" "$WORK/f2.db" >/dev/null 2>&1
eq "a crashed run never replaces a complete one" "$(q "$WORK/c2.db" "SELECT count(*) FROM runs WHERE status = 'crashed'")" 0

cp "$WORK/s2.db" "$WORK/d2.db"
sql "$WORK/d2.db" "UPDATE metrics SET value = value + 1e-6 WHERE run_id = (SELECT min(id) FROM runs) AND epoch = 2 AND split = 'val' AND name = 'loss';"
hash=$(q "$WORK/d2.db" "SELECT config_hash FROM runs ORDER BY id LIMIT 1")
out=$("$TB" merge "$WORK/d.db" "$WORK/s1.db" "$WORK/s2.db" "$WORK/s3.db" "$WORK/d2.db" 2>&1)
eq "two different complete results of one configuration are an error" "$?" 1
has "naming the configuration and both databases" "$out" "configuration $hash (scenario 'shard', seed"
has "and both databases" "$out" "has two different results: complete in '$WORK/s2.db' and complete in '$WORK/d2.db'"
has "saying what to do" "$out" "nothing was merged: keep one of them"
ok "nothing is merged: no database is left where there was none" [ ! -e "$WORK/d.db" ]
out=$("$TB" merge "$WORK/m.db" "$WORK/d2.db" 2>&1)
eq "against a result already in the output, too" "$?" 1
has "naming the output" "$out" "complete in '$WORK/m.db' and complete in '$WORK/d2.db'"
eq "which is left as it was" "$(counts "$WORK/m.db")" "$before"

# ---- math kernels ---------------------------------------------------------------
has "shards on one build: no kernel warning" "$("$TB" merge "$WORK/k0.db" "$WORK/s1.db" "$WORK/s2.db" "$WORK/s3.db" 2>&1)" "merge: 12 runs added"
eq "(none at all)" "$("$TB" merge "$WORK/k0b.db" "$WORK/s1.db" "$WORK/s2.db" "$WORK/s3.db" 2>&1 | grep -c warning)" 0
cp "$WORK/s3.db" "$WORK/h3.db"
sql "$WORK/h3.db" "UPDATE environment SET math_backend = 'openblas', math_version = '0.3.20', math_kernel = 'Haswell';"
out=$("$TB" merge "$WORK/k.db" "$WORK/s1.db" "$WORK/s2.db" "$WORK/h3.db" 2>&1)
eq "shards on different kernels merge" "$?" 0
has "with a warning" "$out" "trainbench merge: warning: the shards of '$S' ran on different math kernels:"
has "naming the other kernel and its shard" "$out" "openblas 0.3.20 (Haswell) on 3/3 ('$WORK/h3.db')"
has "and why it matters" "$out" "their numbers may differ in the last bits"

# ---- the SLURM job scripts, run by hand as SLURM would run them ---------------
# (tests/e2e/test_slurm.sh submits them to a real cluster, as root)
out=$(cd "$WORK" && "$TB" slurm "$S" --array 3 --cpus-per-task 2 --partition debug --time 10:00 --db job/out.db 2>&1)
eq "trainbench slurm writes the jobs" "$?" 0
has "saying how the runs fall into shards" "$out" "12 runs in 3 shards ($n1, $n2, $n3 runs)"
has "and how to submit them" "$out" "jid=\$(sbatch --parsable $WORK/job/out.slurm/shards.sbatch) && sbatch --dependency=afterany:\${jid%%;*} $WORK/job/out.slurm/merge.sbatch"
J="$WORK/job/out.slurm"
sb=$(cat "$J/shards.sbatch")
has "an array of 3 tasks" "$sb" "#SBATCH --array=1-3"
has "with the CPUs asked for" "$sb" "#SBATCH --cpus-per-task=2"
has "in the partition asked for" "$sb" "#SBATCH --partition=debug"
has "with the time limit asked for" "$sb" "#SBATCH --time=10:00"
has "naming trainbench by its absolute path" "$sb" "TB='$(readlink -f "$TB")'"
has "and the script by its" "$sb" "SCRIPT='$S'"
has "on node-local storage" "$sb" '${TMPDIR:-/tmp}'
has "the merge job merges into OUT, absolute" "$(cat "$J/merge.sbatch")" "OUT='$WORK/job/out.db'"
mkdir -p "$WORK/node1" "$WORK/node2" "$WORK/node3"
for i in 3 1 2; do # a task's environment, without trainbench on PATH
  env -i PATH=/usr/bin:/bin SLURM_ARRAY_TASK_ID=$i SLURM_JOB_ID=7$i TMPDIR="$WORK/node$i" \
    sh "$J/shards.sbatch" >"$WORK/task$i.out" 2>&1
  eq "task $i runs its shard" "$?" 0
done
env -i PATH=/usr/bin:/bin SLURM_ARRAY_TASK_ID=1 TMPDIR="$WORK/node1" sh "$J/shards.sbatch" >"$WORK/task1.out" 2>&1
eq "task 1 again" "$?" 0
has "resumes its shard from the shared copy" "$(cat "$WORK/task1.out")" "0 runs to do, $n1 already recorded"
eq "and leaves nothing on the node" "$(ls -A "$WORK/node1")" ""
eq "nor a temporary copy beside the shards" "$(ls -A "$J/shards" | grep -c tmp)" 0
env -i PATH=/usr/bin:/bin SLURM_JOB_ID=99 sh "$J/merge.sbatch" >"$WORK/merge.out" 2>&1
eq "the merge job runs" "$?" 0
python3 "$SAME" "$WORK/single.db" "$WORK/job/out.db" >/dev/null 2>&1
eq "and its database equals the single run" "$?" 0
rm "$WORK/job/out.db" "$J/shards/shard-2-of-3.db" # a fresh output: it held shard 2
env -i PATH=/usr/bin:/bin sh "$J/merge.sbatch" >"$WORK/merge.out" 2>&1
eq "a merge job without a shard fails" "$?" 1
has "naming it" "$(cat "$WORK/merge.out")" "missing: 2/3"
out=$("$TB" slurm "$S" --db "$WORK/x.db" 2>&1)
eq "slurm without --array is a usage error" "$?" 2
out=$("$TB" slurm "$S" --array 2 --time "1 day" --db "$WORK/x.db" 2>&1)
eq "a --time with a space is refused" "$?" 2
has "trainbench --help lists slurm" "$("$TB" --help)" "slurm SCRIPT --array N [--submit]"
has "slurm --help shows every option" "$("$TB" slurm --help)" "[--cpus-per-task C] [--db OUT] [--submit]"

# ---- help ----------------------------------------------------------------------
has "trainbench --help lists merge" "$("$TB" --help)" "merge OUT.db IN.db..."
has "merge --help shows the conflict rule" "$("$TB" merge --help)" "two different complete (or"
has "run --help shows --shard" "$("$TB" run --help)" "--shard I/N"
"$TB" merge "$WORK/only.db" >/dev/null 2>&1
eq "merge without inputs is a usage error" "$?" 2
done_checks
