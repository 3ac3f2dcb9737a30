#!/bin/sh
# The README's plugin example, taken from README.md itself: it compiles with
# the command the README gives, loads through TRAINBENCH_PLUGIN_PATH and
# runs in a scenario beside cross_entropy.
. "$(dirname "$0")/lib.sh"
awk '/<!-- readme-example: my_gce.c/ { grab = 1; next }
     grab && /^```c/ { inside = 1; next }
     inside && /^```/ { exit }
     inside { print }' "$SRC/README.md" > "$WORK/my_gce.c"
ok "the example is in the README" grep -q tb_plugin_entry "$WORK/my_gce.c"
mkdir -p "$WORK/plugins"
ok "it compiles with the README's command" \
  cc -O2 -shared -fPIC -fvisibility=hidden -I "$SRC/core/include" "$WORK/my_gce.c" -o "$WORK/plugins/my_gce.so" -lm
export TRAINBENCH_PLUGIN_PATH="$WORK/plugins"
has "describe shows it" "$("$TB" describe my_gce 2>&1)" "exponent: small is CE-like"
cat > "$WORK/gce.lua" <<'LUA'
local tb = require "trainbench"
tb.scenario {
  name = "gce", data = tb.data.wine {},
  model = tb.model.mlp { hidden = { 16 } },
  loss = tb.grid { "cross_entropy", tb.loss("my_gce", { q = tb.grid { 0.3, 0.7 } }) },
  optimizer = tb.optimizer("adam", { lr = 0.01 }),
  epochs = 10, batch_size = 32, seeds = { 1, 2 },
}
LUA
"$TB" run "$WORK/gce.lua" --db "$WORK/g.db" >/dev/null 2>&1
eq "its runs are recorded beside cross_entropy" "$(q "$WORK/g.db" "SELECT count(*) FROM runs WHERE status = 'complete'")" 6
eq "q is recorded as a parameter" "$(q "$WORK/g.db" "SELECT group_concat(v, ' ') FROM (SELECT DISTINCT value AS v FROM params WHERE component = 'loss' AND key = 'q' ORDER BY v)")" "0.3 0.7"
acc=$(q "$WORK/g.db" "SELECT avg(value) > 0.85 FROM final_metrics f JOIN runs r ON r.id = f.run_id WHERE r.loss = 'my_gce' AND f.split = 'test' AND f.name = 'accuracy'")
eq "and it learns wine (mean test accuracy > 0.85)" "$acc" 1
done_checks
