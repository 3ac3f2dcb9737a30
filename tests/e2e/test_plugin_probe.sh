#!/bin/sh
# A plugin file is loaded in a child process before any command loads it
# itself (plugin_probe.c): a constructor that segfaults, an entry point that
# calls exit, a constructor that hangs, a descriptor pointing at garbage —
# each is a problem naming the file and what happened, and every command
# goes on with the other plugins. A file that loaded is cached by its
# content hash (not probed again); a plugin folder others can write is
# warned about.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
export TRAINBENCH_CACHE_DIR="$WORK/cache"
mkdir plugins
export TRAINBENCH_PLUGIN_PATH="$WORK/plugins"
for h in 1 2 3 4; do cp "$TB_TEST_PLUGINS/hostile$h.so" plugins/; done
cp "$TB_TEST_PLUGINS/variant_ok.so" plugins/

t0=$(date +%s)
out=$(timeout 120 "$TB" plugins 2>&1)
rc=$?
t1=$(date +%s)
eq "plugins: lists what loads despite four hostile files (status)" "$rc" 0
has "... the good plugin on the path is there" "$out" "variant_loss"
has "... and the bundled ones" "$out" "cross_entropy"
has "a constructor that segfaults: named, with the signal" "$out" "hostile1.so"
# a plain build: "killed by signal 11 (SIGSEGV ...)"; under ASan its handler
# reports the segfault and exits: "... its output: SUMMARY: AddressSanitizer: SEGV"
has "... a segfault while being loaded" "$out" "SEGV"
has "an entry point that calls exit(0): named" "$out" "hostile2.so"
has "... ended the process while being loaded" "$out" "ended the process (exited with status 0) while it was being loaded"
has "a constructor that hangs: named" "$out" "hostile3.so"
has "... past the probe's time" "$out" "did not finish loading within 20 s"
has "a descriptor pointing at garbage: named" "$out" "hostile4.so"
ok "the hang cost its 20 s once, not more ($((t1 - t0)) s)" [ $((t1 - t0)) -lt 60 ]

# a run with the hostile files on the path trains with the others
cat > s.lua <<'LUA'
local tb = require "trainbench"
tb.scenario { name = "p", data = tb.data.iris {}, model = tb.model.linear {},
  loss = tb.grid { "cross_entropy", "variant_loss" }, optimizer = tb.optimizer("sgd", { lr = 0.1 }),
  epochs = 2, seeds = { 1 } }
LUA
rm plugins/hostile3.so # 20 s a command is enough to have shown once
out=$("$TB" run s.lua --db "$WORK/p.db" 2>&1)
eq "run with hostile plugins on the path: status 0" "$?" 0
eq "... both runs complete" "$(q "$WORK/p.db" "SELECT count(*) FROM runs WHERE status = 'complete'")" 2

# the cache: the good files' hashes, not the hostile ones'
ok "loads that worked are cached" test -s cache/plugins-loaded
n=$(wc -l < cache/plugins-loaded)
"$TB" plugins >/dev/null 2>&1
eq "... and not probed again (the cache did not grow)" "$(wc -l < cache/plugins-loaded)" "$n"
out=$("$TB" plugins 2>&1)
has "a hostile file is probed (and refused) at every command: never cached" "$out" "hostile1.so"

# folders others can write
chmod 777 plugins
out=$("$TB" plugins 2>&1 >/dev/null)
has "a plugin folder every user can write: warned about" "$out" "plugin folder '$WORK/plugins' can be written by every user"
chmod 755 plugins
out=$("$TB" plugins 2>&1 >/dev/null)
case "$out" in
  *"can be written by"*) eq "a folder only its owner can write: no warning" "warned" "none" ;;
  *) eq "a folder only its owner can write: no warning" "none" "none" ;;
esac

done_checks
