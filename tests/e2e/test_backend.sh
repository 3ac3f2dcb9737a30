#!/bin/sh
# Runs are keyed on their configuration, not on what computed them: a sweep
# resumed by a build with another math backend (OpenBLAS alone or with
# LIBXSMM, another version, another CPU's kernels) skips the runs it
# recorded, whose numbers differ from a rerun's in the last bits — and says
# so before training: how many, on which backend, and `--force`.
. "$(dirname "$0")/lib.sh"
DB="$WORK/b.db"
sql() { # sql "STATEMENTS" — written behind trainbench's back, as another build would have
  python3 -c "
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executescript(sys.argv[2])
c.commit()" "$DB" "$1"
}
warnings() { printf '%s\n' "$1" | grep -c 'warning: .* recorded runs of this sweep ran on'; }

"$TB" run "$E2E/small.lua" --db "$DB" -j 2 >/dev/null 2>&1
eq "the sweep runs" "$?" 0
cur=$(q "$DB" "SELECT math_backend || ' ' || math_version || ' (' || math_kernel || ')' FROM environment")
case "$cur" in
  "openblas "[0-9]*" ("?*")" | "openblas+libxsmm "[0-9]*+[0-9]*" ("?*+?*")") echo "ok    the environment names the backend ($cur)"; checks=$((checks + 1)) ;;
  *) echo "FAIL  the environment names the backend: got '$cur'"; checks=$((checks + 1)); fails=$((fails + 1)) ;;
esac
out=$("$TB" run "$E2E/small.lua" --db "$DB" 2>&1)
has "resumed by the same build: nothing to do" "$out" "0 runs to do, 8 already recorded"
eq "and no warning" "$(warnings "$out")" 0

# three of the runs recorded by another build: OpenBLAS 0.3.20 on Haswell
sql "INSERT INTO environment(cpu, math_backend, math_version, math_kernel, threads, compiler,
       trainbench_version, host, os)
     SELECT cpu, 'openblas', '0.3.20', 'Haswell', threads, compiler, trainbench_version, host, os
     FROM environment;
     UPDATE runs SET environment_id = (SELECT max(id) FROM environment)
     WHERE id IN (SELECT id FROM runs ORDER BY id LIMIT 3);"
out=$("$TB" run "$E2E/small.lua" --db "$DB" 2>&1)
eq "a resumed sweep on another backend still runs (status 0)" "$?" 0
has "and skips the recorded runs" "$out" "0 runs to do, 8 already recorded"
has "saying how many ran where, and on what this build computes" "$out" \
  "trainbench: warning: 3 of the 8 recorded runs of this sweep ran on openblas 0.3.20 (Haswell); this build computes with $cur"
has "and what follows" "$out" "their numbers may differ from its own in the last bits; \`--force\` reruns them"
eq "once" "$(warnings "$out")" 1
out=$("$TB" run "$E2E/small.lua" --db "$DB" --dry-run 2>&1)
eq "--dry-run warns too" "$(warnings "$out")" 1

# the other runs' environment row changed too (as if the whole sweep had
# run elsewhere): all eight, each backend with its count
sql "UPDATE environment SET math_backend = 'openblas+libxsmm', math_version = '0.3.21+1.16',
       math_kernel = 'SkylakeX+skx' WHERE id = (SELECT min(id) FROM environment);"
out=$("$TB" run "$E2E/small.lua" --db "$DB" 2>&1)
has "several backends are each named with their count" "$out" \
  "warning: 8 of the 8 recorded runs of this sweep ran on other math backends (5 on openblas+libxsmm 0.3.21+1.16 (SkylakeX+skx), 3 on openblas 0.3.20 (Haswell)); this build computes with $cur"

# runs of another script in the same database do not count
cat >"$WORK/other.lua" <<'LUA'
local tb = require "trainbench"
tb.scenario {
  name = "other",
  data = tb.data.iris { split = { train = 0.6, val = 0.2, test = 0.2 } },
  model = tb.model.linear {},
  loss = "cross_entropy", optimizer = tb.optimizer("sgd", { lr = 0.1 }),
  epochs = 2, batch_size = 16, seeds = { 1 },
}
LUA
out=$("$TB" run "$WORK/other.lua" --db "$DB" 2>&1)
eq "a sweep of other configurations is not warned about these runs" "$(warnings "$out")" 0

# --force reruns them on this build: no warning, and none afterwards
out=$("$TB" run "$E2E/small.lua" --db "$DB" --force 2>&1)
eq "--force does not warn" "$(warnings "$out")" 0
has "it reruns all of them" "$out" "8 runs done (8 complete"
eq "now every run names this build's backend" \
  "$(q "$DB" "SELECT count(*) FROM runs r JOIN environment e ON e.id = r.environment_id WHERE r.scenario = 'small' AND e.math_backend || ' ' || e.math_version || ' (' || e.math_kernel || ')' = '$cur'")" 8
out=$("$TB" run "$E2E/small.lua" --db "$DB" 2>&1)
eq "and a resumed sweep is quiet again" "$(warnings "$out")" 0
done_checks
