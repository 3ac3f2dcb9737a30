#!/bin/sh
# `trainbench query` with the real binary on a real sweep's database: every
# statement that could write is refused before anything runs (no file
# created, database bytes unchanged), --timeout stops a runaway query,
# --db "" is a usage error, and the table output: UTC times for "_at"
# columns, inf/-inf, long cells cut only on a terminal (with a note), --wide.
. "$(dirname "$0")/lib.sh"
DB="$WORK/db/r.db"
mkdir -p "$WORK/db"
"$TB" run "$E2E/small.lua" --db "$DB" -j 2 >/dev/null 2>&1
eq "the sweep recorded its 8 runs" "$(q "$DB" "SELECT count(*) FROM runs")" 8

# What a query may change: the database file, its log, the folder's entries
# (the -shm index is shared memory that every reader writes, so it is left out).
state() {
  ( cd "$WORK/db" && ls -a && cat r.db r.db-wal 2>/dev/null | cksum )
}

refused() { # refused "SQL" "first words shown" [extra expected text]
  before=$(state)
  out=$("$TB" query --db "$DB" "$1" 2>&1)
  status=$?
  eq "refused, exit 1: $1" "$status" 1
  has "the message names the statement: $1" "$out" "query is read-only: refused \"$2"
  [ $# -ge 3 ] && has "and says: $3" "$out" "$3"
  eq "database and folder unchanged: $1" "$(state)" "$before"
}

refused "VACUUM INTO '$WORK/copy.db'" "VACUUM INTO '$WORK/copy.db'\""
ok "VACUUM INTO wrote no copy" [ ! -e "$WORK/copy.db" ]
refused "ATTACH '$WORK/new.db' AS n" "ATTACH '$WORK/new.db' AS n\""
refused "ATTACH 'file:$WORK/new.db?mode=rwc' AS n" "ATTACH 'file:$WORK/new.db"
ok "ATTACH created no file" [ ! -e "$WORK/new.db" ]
refused "DELETE FROM runs WHERE status <> 'complete'" "DELETE FROM runs WHERE status <> 'complete'\"" \
  "to delete runs use trainbench rm"
refused "DELETE FROM runs WHERE error = '-- none'" "DELETE FROM runs WHERE error = '-- none'\""
refused "UPDATE runs SET status = 'complete'" "UPDATE runs SET status = 'complete'\""
refused "INSERT INTO meta(key, value) VALUES ('x', 1)" "INSERT INTO meta(key, value)"
refused "REPLACE INTO meta(key, value) VALUES ('x', 1)" "REPLACE INTO meta(key, value)"
refused "CREATE TABLE t(x)" "CREATE TABLE t(x)\""
refused "CREATE VIEW v AS SELECT 1" "CREATE VIEW v AS SELECT 1\""
refused "CREATE TEMP TABLE t(x)" "CREATE TEMP TABLE t(x)\""
refused "CREATE INDEX i ON runs(seed)" "CREATE INDEX i ON runs(seed)\""
refused "DROP TABLE metrics" "DROP TABLE metrics\""
refused "ALTER TABLE runs ADD COLUMN x" "ALTER TABLE runs ADD COLUMN x\""
refused "PRAGMA journal_mode=DELETE" "PRAGMA journal_mode=DELETE\""
refused "PRAGMA user_version=5" "PRAGMA user_version=5\""
refused "PRAGMA foreign_keys = OFF" "PRAGMA foreign_keys = OFF\""
refused "PRAGMA wal_checkpoint(TRUNCATE)" "PRAGMA wal_checkpoint(TRUNCATE)\""
refused "BEGIN IMMEDIATE" "BEGIN IMMEDIATE\""
refused "ANALYZE" "ANALYZE\""
# several statements: all are checked before the first one runs
before=$(state)
out=$("$TB" query --db "$DB" "SELECT count(*) AS n FROM runs; DELETE FROM runs" 2>"$WORK/err")
eq "a write in the second statement: exit 1" "$?" 1
eq "and the first statement printed nothing" "$out" ""
has "the message names the second statement" "$(cat "$WORK/err")" \
  "refused \"DELETE FROM runs\" (statement 2; nothing was run)"
eq "database and folder unchanged after the two statements" "$(state)" "$before"
out=$("$TB" query --db "$DB" -- "-- a comment
  SELECT 1; /* another */ VACUUM INTO '$WORK/copy2.db';" 2>&1)
has "comments are not shown as the statement's first words" "$out" \
  "refused \"VACUUM INTO '$WORK/copy2.db'\" (statement 2; nothing was run)"
ok "and nothing was copied" [ ! -e "$WORK/copy2.db" ]
eq "the runs are all still there" "$(q "$DB" "SELECT count(*) FROM runs")" 8

# pragmas and statements that only read are fine
eq "PRAGMA user_version" "$(q "$DB" "PRAGMA user_version")" 5
eq "PRAGMA integrity_check" "$(q "$DB" "PRAGMA integrity_check")" ok
has "PRAGMA table_info(runs)" "$(q "$DB" "PRAGMA table_info(runs)")" "started_at"
eq "pragma_table_info() in a SELECT" "$(q "$DB" "SELECT count(*) > 10 FROM pragma_table_info('runs')")" 1
eq "a transaction around reads" "$(q "$DB" "BEGIN; SELECT count(*) FROM runs; COMMIT")" 8

# a runaway query stops at its time limit
out=$("$TB" query --db "$DB" --timeout 0.5 \
  "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1e12) SELECT count(*) FROM c" 2>&1)
eq "a query past --timeout exits 1" "$?" 1
eq "and says why" "$out" "trainbench: query stopped after 0.5 s (--timeout)"
out=$("$TB" query --db "$DB" --timeout soon "SELECT 1" 2>&1)
eq "--timeout soon is a usage error" "$?" 2
has "naming the option" "$out" "--timeout expects seconds >= 0, got 'soon'"
eq "--timeout 0 means no limit" "$("$TB" query --db "$DB" --timeout 0 --csv "SELECT 7 AS x" | tail -n +2)" 7

# --db "" is a usage error for every command that takes --db
empty_db() { # empty_db COMMAND [ARG]
  out=$("$TB" "$@" --db "" 2>&1)
  eq "--db \"\" with $1: exit 2" "$?" 2
  has "--db \"\" with $1: says so" "$out" "trainbench $1: --db: empty path"
}
empty_db query "SELECT 1"
empty_db summary
empty_db run "$E2E/small.lua"
ok "and no database appeared" [ ! -e "$WORK/.db" ]

# table output: times, non-finite reals, NULL
iso=$("$TB" query --db "$DB" "SELECT started_at FROM runs ORDER BY id LIMIT 1" | sed -n 3p)
eq "started_at prints as a UTC date (as SQLite's datetime() says)" "$iso" \
  "$(q "$DB" "SELECT datetime(started_at, 'unixepoch') FROM runs ORDER BY id LIMIT 1")"
raw=$(q "$DB" "SELECT started_at FROM runs ORDER BY id LIMIT 1")
has "CSV keeps the number" "$raw" "."
ok "a number of seconds" [ "${raw%%.*}" -gt 1600000000 ]
has "JSON keeps the number" "$("$TB" query --db "$DB" --json "SELECT started_at FROM runs ORDER BY id LIMIT 1")" \
  "{\"started_at\":$raw}"
eq "other columns stay numbers" "$("$TB" query --db "$DB" "SELECT 1700000000 AS started" | sed -n 3p)" "1700000000"
eq "a text in an _at column stays text" "$("$TB" query --db "$DB" "SELECT 'soon' AS due_at" | sed -n 3p)" "soon"
eq "non-finite reals and NULL" "$("$TB" query --db "$DB" "SELECT 9e999 AS big, -9e999 AS small, NULL AS n, 1 AS one" | sed -n 3p)" \
  "inf   -inf       1"

# long cells: whole in a pipe or a file, cut on a terminal with a note
config=$(q "$DB" "SELECT config FROM runs ORDER BY id LIMIT 1")
ok "the configuration is longer than 40 characters" [ ${#config} -gt 40 ]
piped=$("$TB" query --db "$DB" "SELECT config FROM runs ORDER BY id LIMIT 1" | sed -n 3p)
eq "piped: the cell is whole" "${#piped}" "$(q "$DB" "SELECT length(config) FROM runs ORDER BY id LIMIT 1")"
has "piped: and not cut" "$piped" '"trainbench":'
case "$piped" in *"…"*) eq "piped: no cut mark" "…" "" ;; esac
tty_out=$(script -qec "'$TB' query --db '$DB' 'SELECT id, config FROM runs ORDER BY id LIMIT 1'" /dev/null | tr -d '\r')
has "terminal: the cell is cut" "$tty_out" "…"
has "terminal: a note names the column and the way out" "$tty_out" \
  "note: long cells cut to fit the terminal in config; see them whole with --wide, --csv or --json"
wide=$(script -qec "'$TB' query --db '$DB' --wide 'SELECT config FROM runs ORDER BY id LIMIT 1'" /dev/null | tr -d '\r')
has "terminal with --wide: the cell is whole" "$wide" "$piped"
case "$wide" in *"note:"*) eq "terminal with --wide: no note" "note" "none" ;; *) eq "terminal with --wide: no note" "none" "none" ;; esac

# the statistics functions, on the runs' wall times
eq "stdev, variance, median, quantile" \
  "$(q "$DB" "SELECT abs(stdev(wall_seconds) * stdev(wall_seconds) - variance(wall_seconds)) < 1e-15, median(wall_seconds) = quantile(wall_seconds, 0.5), quantile(wall_seconds, 0) = min(wall_seconds), quantile(wall_seconds, 1) = max(wall_seconds) FROM runs")" \
  "1,1,1,1"
out=$("$TB" query --db "$DB" "SELECT stdev(status) FROM runs" 2>&1)
has "a text value is an error, not 0" "$out" "stdev: non-numeric value 'complete'"

# reading from a folder this user cannot write; root ignores permission
# bits, so as root the reader is nobody
mkdir "$WORK/ro" && cp "$DB" "$WORK/ro/r.db"
chmod 755 "$WORK" "$WORK/ro" && chmod 644 "$WORK/ro/r.db"
reader=""
if [ "$(id -u)" != 0 ]; then
  chmod 555 "$WORK/ro" && chmod 444 "$WORK/ro/r.db" && reader="env"
elif setpriv --reuid=65534 --regid=65534 --clear-groups "$TB" --version >/dev/null 2>&1; then
  reader="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
if [ -n "$reader" ]; then
  ok "the reader cannot write the folder" $reader sh -c "! touch '$WORK/ro/x' 2>/dev/null"
  eq "a read-only folder: the runs are read" \
    "$($reader "$TB" query --db "$WORK/ro/r.db" --csv "SELECT count(*) AS n FROM runs" 2>&1)" "n
8"
  eq "and nothing was created beside the database" "$(ls -A "$WORK/ro")" "r.db"
  has "summary works there too" "$($reader "$TB" summary --db "$WORK/ro/r.db" 2>&1)" "cross_entropy"
  chmod u+w "$WORK/ro" && printf 'a log that is not empty' > "$WORK/ro/r.db-wal"
  [ "$reader" = env ] && chmod 555 "$WORK/ro"
  out=$($reader "$TB" query --db "$WORK/ro/r.db" "SELECT count(*) FROM runs" 2>&1)
  eq "a log that cannot be read: exit 1" "$?" 1
  has "and never stale results in silence" "$out" "holds changes not yet in the database file"
  chmod -R u+w "$WORK/ro"
else
  echo "skip  read-only folder: as root, setpriv cannot run $TB as nobody here"
fi

# the README's query examples run as they are written
awk '/^## Querying results/ { inside = 1; next }
     inside && /^## / { exit }
     inside && /^```sql/ { sql = 1; next }
     sql && /^```/ { sql = 0; print "--end"; next }
     sql { print }' "$SRC/README.md" > "$WORK/readme.sql"
n=0
stmt=""
while IFS= read -r line; do
  if [ "$line" = "--end" ]; then
    n=$((n + 1))
    "$TB" query --db "$DB" "$stmt" > "$WORK/readme.out" 2>&1
    st=$?
    eq "README query example $n runs" "$st" 0
    [ "$st" -eq 0 ] || sed 's/^/      /' "$WORK/readme.out"
    stmt=""
  else
    stmt="${stmt:-}$line
"
  fi
done < "$WORK/readme.sql"
ok "the README has query examples" [ "$n" -ge 3 ]
done_checks
