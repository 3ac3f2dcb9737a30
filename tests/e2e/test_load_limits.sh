#!/bin/sh
# A script cannot hang `run` at load: its Lua code has a budget of VM
# instructions (TRAINBENCH_SCRIPT_INSTRUCTIONS, 2e9 by default), and a script
# path that is not a regular file (a FIFO, a directory) is refused at once.
# Each failure names the script (and line), exits 1, and leaves what the
# database already holds as it was.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
DIR=$(pwd -P)
DB="$WORK/l.db"

# ok.lua: a small sweep recorded first; what the failures must not touch
cat > ok.lua <<'LUA'
local tb = require "trainbench"
tb.scenario { name = "ok", data = tb.data.iris {}, model = tb.model.linear {},
  loss = "cross_entropy", optimizer = tb.optimizer("sgd", { lr = 0.1 }), epochs = 1,
  seeds = { 1, 2 } }
LUA
"$TB" run ok.lua --db "$DB" >/dev/null 2>&1
eq "a sweep recorded first" "$?" 0
before=$(q "$DB" "SELECT group_concat(config_hash || status, ',') FROM runs")

# spin.lua: an endless loop at line 3, after some work
cat > spin.lua <<'LUA'
local tb = require "trainbench"
local n = 0
while true do n = n + 1 end
LUA
t0=$(date +%s)
err=$(TRAINBENCH_SCRIPT_INSTRUCTIONS=20000000 timeout 120 "$TB" run spin.lua --db "$DB" 2>&1 >/dev/null)
eq "an endless loop at load: status 1" "$?" 1
has "... the message names the script, the line and the limit" "$err" \
  "spin.lua:3: the script ran more than 20000000 Lua instructions while loading (an endless loop?)"
has "... and how to raise it" "$err" "TRAINBENCH_SCRIPT_INSTRUCTIONS"
err=$(TRAINBENCH_SCRIPT_INSTRUCTIONS=20000000 timeout 120 "$TB" run spin.lua --db "$DB" --dry-run 2>&1 >/dev/null)
eq "... the same for run --dry-run" "$?" 1
err=$(timeout 300 "$TB" run spin.lua --db "$DB" 2>&1 >/dev/null)
eq "the default budget stops it too" "$?" 1
has "... at 2000000000 instructions" "$err" "more than 2000000000 Lua instructions"
eq "the database holds what it held" "$(q "$DB" "SELECT group_concat(config_hash || status, ',') FROM runs")" "$before"

# busy.lua: about 3 million instructions of work before its scenario: within
# the default budget, over one of a million. Instructions, not seconds: the
# same script loads or not on any machine, however loaded.
cat > busy.lua <<'LUA'
local tb = require "trainbench"
local s = 0
for i = 1, 1000000 do s = s + i end
tb.scenario { name = "busy", data = tb.data.iris {}, model = tb.model.linear {},
  loss = "cross_entropy", optimizer = tb.optimizer("sgd", { lr = 0.1 }), epochs = 1,
  seeds = { 1 } }
LUA
out=$("$TB" run busy.lua --db "$DB" --dry-run 2>&1)
eq "a script that works for a while loads" "$?" 0
err=$(TRAINBENCH_SCRIPT_INSTRUCTIONS=1000000 "$TB" run busy.lua --db "$DB" --dry-run 2>&1 >/dev/null)
eq "... but not under a budget of 1000000" "$?" 1
has "... naming its loop's line" "$err" "busy.lua:3: the script ran more than 1000000 Lua instructions"
for v in 0 -5 x 1e9; do
  err=$(TRAINBENCH_SCRIPT_INSTRUCTIONS=$v "$TB" run busy.lua --db "$DB" --dry-run 2>&1 >/dev/null)
  eq "TRAINBENCH_SCRIPT_INSTRUCTIONS=$v: refused (status 1)" "$?" 1
  has "... saying what it expects" "$err" "TRAINBENCH_SCRIPT_INSTRUCTIONS='$v': expected a positive count"
done

# the script itself: a FIFO with a writer waiting, a FIFO without one (the
# open would block), a directory
mkfifo fed.lua lonely.lua
cat ok.lua > fed.lua &
writer=$!
for s in fed.lua lonely.lua; do
  err=$(timeout 60 "$TB" run "$s" --db "$DB" 2>&1 >/dev/null)
  eq "script $s (a FIFO): refused at once (status 1)" "$?" 1
  has "... saying what it is" "$err" "script '$s' is a FIFO (named pipe): trainbench reads only regular files"
done
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
mkdir adir
err=$(timeout 60 "$TB" run adir --db "$DB" 2>&1 >/dev/null)
eq "a directory as the script: refused (status 1)" "$?" 1
has "... saying what it is" "$err" "script 'adir' is a directory"
eq "the database still holds what it held" "$(q "$DB" "SELECT group_concat(config_hash || status, ',') FROM runs")" "$before"

done_checks
