#!/bin/sh
# The plugin kit end to end, doing what the READMEs tell a user: install
# trainbench into a temporary destdir; with the INSTALLED binary scaffold a
# loss and an optimizer; build them out of tree against the installed header
# and trainbench.pc (meson with dependency('trainbench'), and the plain cc +
# pkg-config line); `trainbench check` them; run the generated README's Lua
# scenario beside cross_entropy / sgd through TRAINBENCH_PLUGIN_PATH; find
# the runs with the README's `trainbench query`. The commands are taken from
# the generated README.md itself, so the README cannot drift from the truth.
. "${TB_SOURCE_ROOT:?run through meson test}/tests/e2e/lib.sh"
BUILD=${TB_BUILD_ROOT:?}
INST="$WORK/inst"

# ok with the command's output shown on failure
okl() {
  desc=$1; shift
  checks=$((checks + 1))
  if "$@" > "$WORK/step.log" 2>&1; then
    echo "ok    $desc"
  else
    echo "FAIL  $desc"; sed 's/^/      /' "$WORK/step.log" | tail -25
    fails=$((fails + 1)); return 1
  fi
}

# The shell lines of the n-th ```sh block of a README.
sh_block() { # sh_block README N
  awk -v want="$2" '/^```sh$/ { n++; inside = (n == want); next }
                    /^```/ { inside = 0; next }
                    inside { print }' "$1"
}

# The README says `trainbench ...`: that is the installed binary here.
trainbench() { "$ITB" "$@"; }
# Run README lines in a folder, as a user would type them there.
run_in() { (cd "$1" && eval "$2"); }

okl "meson install --no-rebuild into a temporary destdir" \
  meson install -C "$BUILD" --no-rebuild --destdir "$INST" || { done_checks; exit 1; }
pc=$(find "$INST" -name trainbench.pc | head -n 1)
ok "trainbench.pc is installed" test -n "$pc"
[ -n "$pc" ] || { done_checks; exit 1; }
# pkg-config resolves the installed paths inside the destdir
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$INST"
var() { echo "$INST$(env -u PKG_CONFIG_SYSROOT_DIR pkg-config --variable="$1" trainbench)"; }
ITB="$(var bindir)/trainbench"
ok "the installed trainbench is where trainbench.pc says (bindir)" test -x "$ITB"
ok "the header is in the installed include folder" test -f "$(var includedir)/trainbench/plugin.h"
has "pkg-config --cflags points at it" "$(pkg-config --cflags trainbench)" "-I$(var includedir)"
eq "pkg-config --libs is empty: plugins link nothing of trainbench" \
  "$(pkg-config --libs trainbench | tr -d ' ')" ""
ok "the bundled plugins are in plugindir" test -f "$(var plugindir)/cross_entropy.so"
ok "the data sets are in datadir" test -f "$(var datadir)/iris.csv"
has "the installed binary loads the installed plugins" "$("$ITB" plugins)" "$(var plugindir)/sgd.so"

# -- a loss ------------------------------------------------------------------
SRCDIR="$WORK/src"
okl "installed 'trainbench new loss mygce --dir DIR'" "$ITB" new loss mygce --dir "$SRCDIR"
README="$SRCDIR/README.md"
# block 1: meson; block 2: cc + pkg-config; 3: check; 4: export + describe; 5: run + query
ok "its README has the five command blocks" test -n "$(sh_block "$README" 5)"
meson_build=$(sh_block "$README" 1)
okl "README's meson build: $meson_build" run_in "$SRCDIR" "$meson_build"
eq "  without warnings" "$(grep -ci warning "$WORK/step.log")" 0
has "  meson found the installed trainbench.pc" "$(cat "$WORK/step.log")" \
  "Run-time dependency trainbench found: YES"
ok "  build/mygce.so exists" test -f "$SRCDIR/build/mygce.so"
eq "  it exports tb_plugin_entry only" \
  "$(nm -D --defined-only "$SRCDIR/build/mygce.so" | awk 'NF == 3 { print $3 }')" tb_plugin_entry

# the plain cc line, in a copy so that the two builds stay apart
mkdir -p "$WORK/cc" && cp "$SRCDIR/mygce.c" "$WORK/cc/"
cc_line=$(sh_block "$README" 2)
has "README's cc line uses pkg-config" "$cc_line" '$(pkg-config --cflags trainbench)'
okl "README's cc line builds it" run_in "$WORK/cc" "$cc_line"
eq "  without warnings" "$(cat "$WORK/step.log")" ""
has "  and it loads (describe)" \
  "$(TRAINBENCH_PLUGIN_PATH="$WORK/cc/build" "$ITB" describe mygce 2>&1)" "$WORK/cc/build/mygce.so"

check_line=$(sh_block "$README" 3)
okl "README's check: $check_line (exit 0)" run_in "$SRCDIR" "$check_line"
has "  it printed PASS rows" "$(cat "$WORK/step.log")" "PASS"

# the README's use: export, describe, scenario, run, query — in the plugin's folder
cd "$SRCDIR" || exit 1
eval "$(sh_block "$README" 4)" > "$WORK/describe.log" 2>&1
eq "README's export points TRAINBENCH_PLUGIN_PATH at the build" "$TRAINBENCH_PLUGIN_PATH" "$SRCDIR/build"
has "  and describe finds mygce there" "$(cat "$WORK/describe.log")" "$SRCDIR/build/mygce.so"
awk '/^```lua$/ { inside = 1; next } inside && /^```/ { exit } inside { print }' "$README" > mygce.lua
has "README's scenario puts mygce beside cross_entropy" "$(cat mygce.lua)" '"cross_entropy", tb.loss("mygce"'
eval "$(sh_block "$README" 5)" > "$WORK/query.log" 2> "$WORK/run.log"
DB="$SRCDIR/mygce.db"
eq "the runs are recorded: mygce x scale {0.5, 1} x 2 seeds + cross_entropy x 2 seeds" \
  "$(q "$DB" "SELECT group_concat(loss || ':' || n, ' ') FROM (SELECT loss, count(*) AS n FROM runs WHERE status = 'complete' GROUP BY loss ORDER BY loss)")" \
  "cross_entropy:2 mygce:4"
has "README's query lists them" "$(cat "$WORK/query.log")" "mygce"
eq "run_plugins records the out-of-tree file" \
  "$(q "$DB" "SELECT DISTINCT file FROM run_plugins WHERE name = 'mygce'")" "$SRCDIR/build/mygce.so"
eq "at scale 1 it reproduces cross_entropy exactly (every metric of every epoch)" \
  "$(q "$DB" "SELECT (count(*) > 100) || ' ' || sum(a.value <> b.value) FROM runs ra
     JOIN params p ON p.run_id = ra.id AND p.component = 'loss' AND p.key = 'scale' AND p.value = 1
     JOIN runs rb ON rb.loss = 'cross_entropy' AND rb.seed = ra.seed
     JOIN metrics a ON a.run_id = ra.id
     JOIN metrics b ON b.run_id = rb.id AND b.epoch = a.epoch AND b.split = a.split AND b.name = a.name
     WHERE ra.loss = 'mygce'")" "1 0"
acc=$(q "$DB" "SELECT avg(f.value) > 0.85 FROM final_metrics f JOIN runs r ON r.id = f.run_id WHERE r.loss = 'mygce' AND f.split = 'test' AND f.name = 'accuracy'")
eq "and it learns wine (mean test accuracy > 0.85)" "$acc" 1
cd "$WORK" || exit 1
unset TRAINBENCH_PLUGIN_PATH

# -- an optimizer --------------------------------------------------------------
OPT="$WORK/opt"
okl "installed 'trainbench new optimizer mysgd --dir DIR'" "$ITB" new optimizer mysgd --dir "$OPT"
okl "README's meson build" run_in "$OPT" "$(sh_block "$OPT/README.md" 1)"
eq "  without warnings" "$(grep -ci warning "$WORK/step.log")" 0
okl "README's check: $(sh_block "$OPT/README.md" 3) (exit 0)" run_in "$OPT" "$(sh_block "$OPT/README.md" 3)"
cd "$OPT" || exit 1
awk '/^```lua$/ { inside = 1; next } inside && /^```/ { exit } inside { print }' README.md > mysgd.lua
eval "$(sh_block README.md 4)" > /dev/null 2>&1
eval "$(sh_block README.md 5)" > "$WORK/query.log" 2> "$WORK/run.log"
eq "its runs are recorded beside sgd" \
  "$(q mysgd.db "SELECT group_concat(optimizer || ':' || n, ' ') FROM (SELECT optimizer, count(*) AS n FROM runs WHERE status = 'complete' GROUP BY optimizer ORDER BY optimizer)")" \
  "mysgd:2 sgd:2"
eq "and match sgd without momentum bit for bit" \
  "$(q mysgd.db "SELECT (count(*) > 100) || ' ' || sum(a.value <> b.value) FROM runs ra
     JOIN runs rb ON rb.optimizer = 'sgd' AND rb.seed = ra.seed
     JOIN metrics a ON a.run_id = ra.id
     JOIN metrics b ON b.run_id = rb.id AND b.epoch = a.epoch AND b.split = a.split AND b.name = a.name
     WHERE ra.optimizer = 'mysgd'")" "1 0"
cd "$WORK" || exit 1
unset TRAINBENCH_PLUGIN_PATH

# -- the installed binary refuses what it should -------------------------------
out=$("$ITB" new loss cross_entropy --dir "$WORK/ce" 2>&1)
has "new refuses a name taken by an installed plugin, naming its file" "$out" \
  "loss 'cross_entropy' already exists (loaded from '$(var plugindir)/cross_entropy.so')"
out=$("$ITB" new loss mygce --dir "$SRCDIR" 2>&1)
has "new refuses to overwrite" "$out" "'$SRCDIR/mygce.c' already exists; nothing written"
out=$("$ITB" new loss My-Loss --dir "$WORK/bad" 2>&1)
has "new rejects a name that is not an identifier" "$out" "'My-Loss' is not a valid loss name"

# the installed binary reads the installed data sets, not the source tree's
rm "$(var datadir)/iris.csv"
cat > "$WORK/iris.lua" <<'LUA'
local tb = require "trainbench"
tb.scenario { name = "iris", data = tb.data.iris {}, loss = "cross_entropy",
              optimizer = "sgd", epochs = 1 }
LUA
has "the installed binary reads datadir (a missing installed file is named)" \
  "$("$ITB" run "$WORK/iris.lua" --dry-run --db "$WORK/x.db" 2>&1)" "'$(var datadir)/iris.csv'"

done_checks
