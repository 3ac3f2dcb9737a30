#!/bin/sh
# One identity: runs recorded by earlier versions (schema 1 by trainbench
# 0.1, schema 2 by main before issue 7, both keyed on the JSON that listed
# every hyperparameter) are found by that legacy identity, re-keyed on the
# new one and skipped; a reader (run --dry-run) finds them without writing.
# And the configuration tree end to end: a wrapper optimizer with its base,
# lists, records, strings and K-sized values, through params rows, run
# components, the results view, labels, `describe` and `plugins`.
. "$(dirname "$0")/lib.sh"
FIX="$SRC/tests/store/fixtures"

# ---- a database written by main before issue 7 (schema 2) ---------------------
mkdir -p "$WORK/v2"
cp "$FIX/schema2.db" "$FIX/v2.lua" "$FIX/v2.csv" "$WORK/v2/"
DB="$WORK/v2/schema2.db"
legacy() { q "$DB" "SELECT count(*) FROM runs WHERE config LIKE '%\"kind\":%'"; }
# upgrade the schema without a sweep (rm), so a reader meets legacy keys
"$TB" rm --db "$DB" --where "0" >/dev/null 2>&1
eq "rm upgraded the schema to 5" "$(q "$DB" "PRAGMA user_version")" 5
eq "the runs are still keyed the old way" "$(legacy)" 7
out=$("$TB" run "$WORK/v2/v2.lua" --db "$DB" --dry-run 2>&1)
eq "run --dry-run succeeds" "$?" 0
has "and finds every run by its legacy identity" "$out" "0 runs to do, 7 already recorded"
eq "listing each as skipped" "$(printf '%s\n' "$out" | grep -c '^skip ')" 7
eq "a reader changes nothing" "$(legacy)" 7
out=$("$TB" run "$WORK/v2/v2.lua" --db "$DB" 2>&1)
eq "the old sweep reruns with status 0" "$?" 0
has "saying how many runs it re-keyed" "$out" "7 runs recorded by an earlier trainbench found by their earlier identity and re-keyed on the new one"
has "and skips them all" "$out" "0 runs to do, 7 already recorded"
eq "every run is keyed on the new identity" "$(legacy)" 0
eq "its scenario versions follow" "$(q "$DB" "SELECT count(*) FROM scenario_configs c JOIN runs r ON r.config_hash = c.config_hash")" 7
eq "group hashes are the new identity's (7 runs, 6 groups)" "$(q "$DB" "SELECT count(DISTINCT group_hash) FROM runs")" 6
eq "the summary still shows them" "$("$TB" summary --db "$DB" | grep -c '^v2_')" 6
out=$("$TB" run "$WORK/v2/v2.lua" --db "$DB" 2>&1)
case "$out" in *re-keyed*) echo "FAIL  a second rerun re-keys again"; fails=$((fails + 1)) ;; *) echo "ok    a second rerun has nothing to re-key" ;; esac
checks=$((checks + 1))
has "and still skips everything" "$out" "0 runs to do, 7 already recorded"

# ---- schema 1 (trainbench 0.1), rerun without its test plugin: fault_nan is
# missing, so v1.lua is cut to its first scenario ----------------------------------
mkdir -p "$WORK/v1"
cp "$FIX/schema1.db" "$WORK/v1/"
sed -n '1,12p' "$FIX/v1.lua" > "$WORK/v1/v1a.lua"
out=$("$TB" run "$WORK/v1/v1a.lua" --db "$WORK/v1/schema1.db" 2>&1)
eq "schema 1: the first scenario reruns" "$?" 0
has "its 8 runs found by their legacy identity" "$out" "8 runs recorded by an earlier trainbench found by their earlier identity"
has "and skipped" "$out" "0 runs to do, 8 already recorded"

# ---- the configuration tree end to end ---------------------------------------------
mkdir -p "$WORK/p"
cp "$TB_BUILD_ROOT/tests/lua/hptypes.so" "$TB_BUILD_ROOT/tests/lua/hpnest.so" "$WORK/p/"
export TRAINBENCH_PLUGIN_PATH="$WORK/p"
cat > "$WORK/nest.lua" <<'LUA'
local tb = require "trainbench"
tb.scenario {
  name = "nest",
  data = tb.data.iris { split_seed = 4 },
  model = tb.model.mlp { hidden = { 6 } },
  loss = tb.loss("hp_kloss", { class_weights = { 1, 2, 3 } }),
  optimizer = tb.optimizer("hp_wrap", { base = tb.optimizer("hp_opt", { lr = tb.grid { 0.2, 0.3 } }),
                                        mix = { slow = 0.25, fast = 0.75 }, widths = { 1, 2 } }),
  schedule = tb.schedule.linear { end_factor = 0.5 },
  epochs = 2, batch_size = 16,
}
LUA
DB="$WORK/nest.db"
out=$("$TB" run "$WORK/nest.lua" --db "$DB" --dry-run 2>&1)
has "labels show what differs from the defaults, nested included" "$out" "nest hp_kloss/hp_wrap class_weights=[1,2,3] base=hp_opt(lr=0.2) mix={slow=0.25,fast=0.75} widths=[1,2] data=iris(split_seed=4) model=mlp(hidden=[6]) schedule=linear(end_factor=0.5) seed=1"
"$TB" run "$WORK/nest.lua" --db "$DB" >/dev/null 2>&1
eq "the sweep runs" "$?" 0
eq "params: the base's own rows under its role path" "$(q "$DB" "SELECT group_concat(value, ' ') FROM (SELECT value FROM params WHERE component = 'optimizer.base' AND key = 'lr' ORDER BY value)")" "0.2 0.3"
eq "params: the component's name under its key" "$(q "$DB" "SELECT DISTINCT value FROM params WHERE component = 'optimizer' AND key = 'base'")" hp_opt
eq "params: a record one number per field" "$(q "$DB" "SELECT group_concat(key || '=' || value, ' ') FROM (SELECT key, value FROM params WHERE run_id = 1 AND component = 'optimizer' AND key LIKE 'mix_%' ORDER BY rowid)")" "mix_slow=0.25 mix_fast=0.75"
eq "params: a list as JSON text" "$(q "$DB" "SELECT value FROM params WHERE run_id = 1 AND component = 'optimizer' AND key = 'widths'" | tr -d '"')" "[1,2]"
eq "params: a K-sized list as JSON text" "$(q "$DB" "SELECT value FROM params WHERE run_id = 1 AND component = 'loss' AND key = 'class_weights'" | tr -d '"')" "[1,2,3]"
eq "params: a string as text" "$(q "$DB" "SELECT typeof(value) || ':' || value FROM params WHERE run_id = 1 AND component = 'optimizer' AND key = 'tag'")" "text:none"
eq "params: an empty K-sized matrix is [] (every value, defaults included)" "$(q "$DB" "SELECT value FROM params WHERE run_id = 1 AND component = 'loss' AND key = 'confusion'")" "[]"
eq "params: every part has its component's name" "$(q "$DB" "SELECT group_concat(component || '=' || value, ' ') FROM (SELECT component, value FROM params WHERE run_id = 1 AND key = 'name' ORDER BY component)")" "data=iris model=mlp schedule=linear"
eq "run_components: a row per role path, the base's included" "$(q "$DB" "SELECT group_concat(role || ':' || name, ' ') FROM (SELECT role, name FROM run_plugins WHERE run_id = 1 ORDER BY role)")" "data:iris loss:hp_kloss model:mlp optimizer:hp_wrap optimizer.base:hp_opt schedule:linear"
eq "the results view has the base's column" "$(q "$DB" "SELECT group_concat(lr, ' ') FROM (SELECT \"optimizer.base.lr\" AS lr FROM results ORDER BY lr)")" "0.2 0.3"
eq "the identity nests the base" "$(q "$DB" "SELECT count(*) FROM runs WHERE json_extract(config, '$.optimizer.hp.base.name') = 'hp_opt'")" 2
out=$("$TB" describe hp_wrap 2>&1)
has "describe: a component hyperparameter with its kind and default" "$out" "base                       optimizer hp_opt"
has "describe: a record with its fields" "$out" "{slow, fast} in [0, 1]"
has "describe: a list with its lengths" "$out" "1 to 4 integers in [1, 8]"
out=$("$TB" describe cosine 2>&1)
eq "describe cosine (a schedule plugin)" "$?" 0
has "with its warmup" "$out" "warmup                     real      0              >= 0"
out=$("$TB" describe csv 2>&1)
has "describe a built-in dataset" "$out" "dataset csv (version 1) — in a script: tb.data.csv {...}"
has "an optional value without a default" "$out" "label                      int       (none)"
out=$("$TB" plugins 2>&1)
has "plugins lists schedules" "$out" "schedule   cosine"
has "and built-ins, as such" "$out" "dataset    digits"
has "built in" "$out" "built in"

# ---- schedules as plugins: what the trainer hands them, check, a bad factor ---------
cat > "$WORK/sched.lua" <<'LUA'
local tb = require "trainbench"
tb.scenario { name = "seen", data = tb.data.iris {}, loss = "hp_loss", optimizer = "hp_opt",
              schedule = "hp_seen", epochs = 2, batch_size = 32 }
LUA
out=$("$TB" run "$WORK/sched.lua" --db "$WORK/sched.db" 2>&1)
eq "a schedule sees the last evaluation's metrics at every step (else its factor is NaN)" "$?" 0
sed -i 's/hp_seen/hp_negative/' "$WORK/sched.lua"
out=$("$TB" run "$WORK/sched.lua" --db "$WORK/sched.db" 2>&1)
eq "a negative factor fails the run (status 3)" "$?" 3
has "naming the schedule and the step" "$out" "schedule 'hp_negative' gave the factor -0.5 at step 4 (it must be finite and >= 0)"
out=$("$TB" check constant step cosine linear 2>&1)
eq "check passes the bundled schedules" "$?" 0
has "with a row for the factor over a run and one for the warmup" "$out" "20 checks, 0 failed"
out=$("$TB" check hp_negative 2>&1)
eq "check flags a schedule whose factor goes negative (status 1)" "$?" 1
has "in its factor row" "$out" "FAIL    schedule  hp_negative  factor"
done_checks
