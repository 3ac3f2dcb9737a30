#!/bin/sh
# A plugin rebuilt with other numbers under the same name and version is
# caught by its numeric fingerprint before anything is trained; a rebuild
# that changes only the file (other compiler flags, another path) is not.
. "$(dirname "$0")/lib.sh"
FP="$TB_BUILD_ROOT/tests/plugins/fp"
DB="$WORK/s.db"
mkdir -p "$WORK/p"
export TRAINBENCH_PLUGIN_PATH="$WORK/p"
cp "$FP/fp_base.so" "$WORK/p/fp.so"

"$TB" run "$E2E/fp.lua" --db "$DB" -j 2 >/dev/null 2>&1
eq "the sweep runs" "$?" 0
eq "each component recorded with its fingerprint" "$(q "$DB" "SELECT count(*) FROM components WHERE name IN ('fp_loss', 'fp_opt', 'cross_entropy') AND fingerprint GLOB '[0-9a-f]*' AND probe LIKE 'fp1:%'")" 3
eq "each run points at the builds it used (loss, optimizer, schedule)" "$(q "$DB" "SELECT count(*) FROM run_plugins WHERE fingerprint <> ''")" 12

# the same source built with -O0 under another path: the same numbers
rm "$WORK/p/fp.so"; cp "$FP/fp_O0.so" "$WORK/p/fp_debug.so"
out=$("$TB" run "$E2E/fp.lua" --db "$DB" 2>&1)
eq "a flags-only rebuild is accepted" "$?" 0
has "and its runs are skipped" "$out" "0 runs to do, 4 already recorded"
eq "the new build is recorded beside the old one" "$(q "$DB" "SELECT count(*) FROM components WHERE name = 'fp_opt'")" 2

# other numbers under the same version (eps moved inside the square root):
# refused before training
rm "$WORK/p/fp_debug.so"; cp "$FP/fp_eps_inside.so" "$WORK/p/fp.so"
before=$(q "$DB" "SELECT group_concat(config_hash || finished_at) FROM runs")
out=$("$TB" run "$E2E/fp.lua" --db "$DB" 2>&1)
eq "a rebuild with other numbers is refused (status 1)" "$?" 1
has "naming the plugin and its version" "$out" "optimizer 'fp_opt' version 1 ($WORK/p/fp.so) computes other numbers than the build that recorded 4 of this sweep's runs"
has "saying where the numbers differ" "$out" "values differ, the first at"
has "and what to do" "$out" "bump the plugin's version"
has "or --force" "$out" "--force"
eq "nothing was trained or changed" "$(q "$DB" "SELECT group_concat(config_hash || finished_at) FROM runs")" "$before"
out=$("$TB" run "$E2E/fp.lua" --db "$DB" --dry-run 2>&1)
eq "--dry-run refuses too" "$?" 1
out=$("$TB" run "$E2E/fp.lua" --db "$DB" --force 2>&1)
eq "--force redoes the sweep with the new build" "$?" 0
has "all of it" "$out" "4 runs done (4 complete"
eq "the runs now point at the new build" "$(q "$DB" "SELECT count(DISTINCT c.id) FROM run_components rc JOIN components c ON c.id = rc.component_id WHERE c.name = 'fp_opt'")" 1
out=$("$TB" run "$E2E/fp.lua" --db "$DB" 2>&1)
eq "after --force the new build is the recorded one" "$?" 0

# a changed default under the same version: the identity leaves defaults out
# (so a hyperparameter added with a default that keeps the numbers changes
# no run's identity), so these are the same configurations — and the
# fingerprint, probed at the defaults, refuses to reuse their runs: the rule
# is to bump the version when a default changes
cp "$FP/fp_def_lr.so" "$WORK/p/fp.so"
out=$("$TB" run "$E2E/fp.lua" --db "$DB" 2>&1)
eq "a changed default under the same version is refused (status 1)" "$?" 1
has "naming the plugin whose default changed" "$out" "optimizer 'fp_opt' version 1"

# a loss whose numbers change only with label smoothing on (not the default)
cp "$FP/fp_base.so" "$WORK/p/fp.so"
"$TB" run "$E2E/fp.lua" --db "$WORK/t.db" >/dev/null 2>&1
cp "$FP/fp_smooth_km1.so" "$WORK/p/fp.so"
out=$("$TB" run "$E2E/fp.lua" --db "$WORK/t.db" 2>&1)
has "a change that shows only at non-default settings is caught" "$out" "loss 'fp_loss' version 1"
done_checks
