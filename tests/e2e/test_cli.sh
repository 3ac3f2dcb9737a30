#!/bin/sh
# The command line: --help everywhere, --version, plugins, describe, and the
# errors a user meets first.
. "$(dirname "$0")/lib.sh"
for c in run summary query runs rm plugins describe; do
  out=$("$TB" $c --help 2>&1)
  has "$c --help" "$out" "usage: trainbench $c"
done
has "--help lists the commands" "$("$TB" --help)" "describe NAME"
has "--version" "$("$TB" --version)" "plugin ABI 2.2"
out=$("$TB" plugins)
for n in cross_entropy focal brier hinge sgd adam adamw rmsprop adagrad; do
  has "plugins lists $n" "$out" " $n "
done
out=$("$TB" describe sgd)
has "describe shows the reference" "$out" "reference:"
has "describe shows the hyperparameter table" "$out" "nesterov"
has "describe shows ranges" "$out" "momentum"
out=$("$TB" describe cross_entropy)
has "describe a loss" "$out" "label_smoothing"
out=$("$TB" describe nope 2>&1)
has "describe of an unknown name lists valid names" "$out" "no component or metric named 'nope' (valid: metrics,"
# the metrics: one table in core/metrics.c, listed by describe, and the README's list is that listing
out=$("$TB" describe metrics)
eq "describe metrics lists the 9 metrics of the registry" "$(printf '%s\n' "$out" | grep -c '^- `')" 9
awk '/^<!-- metrics:/ { grab = 1; next } /^<!-- end of metrics/ { grab = 0 } grab' "$SRC/README.md" > "$WORK/readme_metrics"
printf '%s\n' "$out" > "$WORK/describe_metrics"
ok "the README's list of metrics is what describe metrics prints" cmp "$WORK/readme_metrics" "$WORK/describe_metrics"
out=$("$TB" describe brier)
has "describe of a name both a metric and a loss shows the metric" "$out" '- `brier` (lower is better)'
has "and the loss" "$out" "loss brier (version"

mkdir -p "$WORK/plugins"
cp "$TB_TEST_PLUGINS/variant_shadow.so" "$WORK/plugins/"
out=$(TRAINBENCH_PLUGIN_PATH="$WORK/plugins" "$TB" plugins)
has "plugins shows what a component shadows" "$out" "shadows "
printf 'not a plugin' > "$WORK/plugins/junk.so"
out=$(TRAINBENCH_PLUGIN_PATH="$WORK/plugins" "$TB" plugins)
has "plugins lists rejected files with the reason" "$out" "junk.so: not a shared object"

out=$("$TB" summary --db "$WORK/none.db" 2>&1)
has "reading a missing database says so" "$out" "no results database at"
cat > "$WORK/bad.lua" <<'LUA'
local tb = require "trainbench"
tb.scenario {
  name = "bad", data = tb.data.iris {}, loss = "cross_entropy",
  optimizer = tb.optimizer("sgd", { lr = 0.1,
    nesterov = true }),
  epochs = 2,
}
LUA
out=$("$TB" run "$WORK/bad.lua" --db "$WORK/bad.db" 2>&1)
has "a bad script names file and line" "$out" "bad.lua:4:"
has "and the problem" "$out" "nesterov"
ok "and records nothing" [ ! -f "$WORK/bad.db" ]
out=$("$TB" run 2>&1)
has "run without a script" "$out" "expected one SCRIPT"
out=$("$TB" frobnicate 2>&1)
has "unknown command" "$out" "unknown command 'frobnicate'"
done_checks
