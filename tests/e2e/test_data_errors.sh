#!/bin/sh
# Data errors and sizes past the limits stop the sweep before anything runs:
# `run` and `run --dry-run` exit with status 1, stderr names the script line
# of the tb.data / tb.model call and FILE:LINE:COLUMN with the field, and no
# run is recorded; a data path that is not a regular file is refused at load.
. "$(dirname "$0")/lib.sh"
cd "$WORK" || exit 1
DIR=$(pwd -P)
DB="$WORK/d.db"

# s.lua: one scenario; $1 = the data expression (line 2), $2 = the model (line 3)
script() {
  cat > s.lua <<EOF
local tb = require "trainbench"
local data = $1
local model = ${2:-tb.model.linear {\}}
tb.scenario {
  name = "e",
  data = data,
  model = model,
  loss = "cross_entropy",
  optimizer = tb.optimizer("sgd", { lr = 0.1 }),
  epochs = 1,
  seeds = { 1, 2 },
}
EOF
}

# refused NAME EXPECTED: both `run --dry-run` and `run` fail at load with the
# message on stderr, and nothing is recorded
refused() {
  for mode in --dry-run --train; do
    flag=$mode
    [ "$mode" = --train ] && flag=
    err=$("$TB" run s.lua --db "$DB" $flag -j 2 2>&1 >/dev/null)
    rc=$?
    eq "$1: exit status of run $mode" "$rc" 1
    has "$1: message of run $mode" "$err" "$2"
  done
  if [ -e "$DB" ]; then
    eq "$1: no run recorded" "$(q "$DB" "SELECT count(*) FROM runs")" 0
  else
    eq "$1: no database written" "absent" "absent"
  fi
}

# bad_csv NAME TEXT EXPECTED-AFTER-PATH [DATA-OPTIONS]: TEXT (printf format)
# as bad.csv, read by tb.data.csv at line 2 of s.lua
bad_csv() {
  printf "$2" > bad.csv
  script "tb.data.csv { path = \"bad.csv\"${4:+, $4} }"
  refused "$1" "s.lua:2: tb.data.csv: $DIR/bad.csv:$3"
}

bad_csv "ragged row" 'a,b,y\n1,2,0\n3,4,1,5\n' \
  "3:7: field 4: this row has 4 fields, line 1 has 3"
bad_csv "short row" 'a,b,y\n1,2,0\n3,4\n' \
  "3:4: this row has 2 fields, line 1 has 3 (field 3 is missing)"
bad_csv "non-numeric cell" 'a,b,y\n1,2,0\n3,abc,1\n' "3:3: field 2: 'abc' is not a number"
for v in nan inf -inf NaN 1e999; do
  bad_csv "cell $v" "a,b,y\n1,2,0\n3,$v,1\n0,1,1\n" "3:3: field 2: '$v' is not a finite number"
done
bad_csv "label nan" 'a,b,y\n1,2,0\n3,4,nan\n5,6,1\n' \
  "3:5: field 3: label 'nan' is not a finite number"
bad_csv "label inf" 'a,b,y\n1,2,0\n3,4,inf\n5,6,1\n' \
  "3:5: field 3: label 'inf' is not a finite number"
bad_csv "label 2.5" 'a,b,y\n1,2,0\n3,4,2.5\n5,6,1\n' "3:5: field 3: label '2.5' is not an integer"
bad_csv "label -1" 'a,b,y\n1,2,0\n3,4,-1\n5,6,1\n' "3:5: field 3: label '-1' is negative"
bad_csv "numeric and named labels" 'a,b,y\n1,2,0\n3,4,cat\n' \
  "3:5: field 3: label 'cat' is a name but the label on line 2 ('0') is a number"
bad_csv "one class" 'a,b,y\n1,2,1\n3,4,1\n' ""
has "one class: message" "$err" "the label column (field 3) has a single class ('1' on all 2 rows)"
bad_csv "no data rows" 'a,b,y\n' ""
has "no data rows: message" "$err" "bad.csv: no data rows (only the header line)"
bad_csv "blank first line" '\na,b,y\n1,2,0\n3,4,1\n' "1:1: the first line is blank (expected the header)"
bad_csv "blank line between rows" 'a,b,y\n1,2,0\n\n3,4,1\n' \
  "3:1: blank line between rows (line 4 has data again)"
bad_csv "headerless file read with header = true" '1,2,0\n3,4,1\n5,6,0\n' \
  "1:1: line 1 reads as a data row, not as column names"
has "headerless file: the fix is named" "$err" "set header = false"
bad_csv "header read with header = false" 'a,b,y\n1,2,0\n3,4,1\n' \
  "1:1: field 1: 'a' is not a number (is line 1 a header? then set header = true)" "header = false"

# a truncated .csv.gz (gzread used to return the rows before the cut)
i=0
{ echo "a,b,y"; while [ $i -lt 2000 ]; do echo "$i,$((i % 7)),$((i % 2))"; i=$((i + 1)); done; } > whole.csv
gzip -c whole.csv > whole.csv.gz
size=$(wc -c < whole.csv.gz)
head -c $((size / 2)) whole.csv.gz > cut.csv.gz
script 'tb.data.csv { path = "cut.csv.gz" }'
refused "truncated .csv.gz" "s.lua:2: tb.data.csv: $DIR/cut.csv.gz: truncated gzip data (unexpected end of file)"

# sizes past the limits: the two cases of the issue, and a parameter count
# that only the data makes too large
script 'tb.data.iris {}' 'tb.model.mlp { hidden = { 2^31 - 1 } }'
refused "hidden = {2^31 - 1}" \
  "s.lua:3: tb.model.mlp: 'hidden' = 2147483647 at position 1 is out of range [1, 65536]"
script 'tb.data.blobs { n = 100000, dim = 30000 }'
refused "blobs n x dim past int range" \
  "s.lua:2: tb.data.blobs: 'n' x 'dim' = 100000 x 30000 = 3000000000 values, more than the limit of 268435456"
script 'tb.data.digits {}' 'tb.model.mlp { hidden = { 65536, 65536 } }'
refused "parameters past the limit" \
  "s.lua:3: tb.model.mlp: 'hidden' = {65536, 65536} gives 4299948042 parameters on 64 features and 10 classes, more than the limit of 268435456"

# A data path that is not a regular file is refused at load, at once: a FIFO
# (whose writer is waiting: reading it would work once and never again, and
# opening it without a writer would block), a device that never ends
# (/dev/zero), a directory. `timeout` only keeps a broken build from hanging
# the suite.
mkfifo fifo.csv
printf 'a,b,y\n1,2,0\n3,4,1\n' > fifo.csv &
writer=$!
for bad in "fifo.csv|$DIR/fifo.csv' is a FIFO (named pipe)" "/dev/zero|/dev/zero' is a character device" \
           ".|$DIR' is a directory"; do
  path=${bad%%|*}
  script "tb.data.csv { path = \"$path\" }"
  err=$(timeout 60 "$TB" run s.lua --db "$DB" 2>&1 >/dev/null)
  eq "data '$path': refused at load (status 1)" "$?" 1
  has "data '$path': the message says what it is" "$err" \
    "s.lua:2: tb.data.csv: data file '${bad#*|}: trainbench reads only regular files"
done
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null

# A good file with blank lines at the end runs, and its runs record its hash.
printf 'a,b,y\n1,2,0\n3,4,1\n1.1,2.2,0\n3.3,4.1,1\n0.9,1.8,0\n2.9,4.2,1\n1,2.1,0\n3.1,3.9,1\n1.2,2,0\n3,4.3,1\n\n\n' > good.csv
rm -f "$DB"
script 'tb.data.csv { path = "good.csv" }'
sed -i 's/seeds = { 1, 2 }/seeds = tb.range(1, 6)/' s.lua
out=$(timeout 120 "$TB" run s.lua --db "$DB" -j 2 2>&1)
eq "a sweep over a file with blank lines at its end succeeds" "$?" 0
eq "its 6 runs are complete" "$(q "$DB" "SELECT count(*) FROM runs WHERE status = 'complete'")" 6
eq "all its runs record one content hash of 32 hex digits" \
  "$(q "$DB" "SELECT count(DISTINCT json_extract(config, '\$.data.content_hash')) || ' ' || min(length(json_extract(config, '\$.data.content_hash'))) FROM runs")" "1 32"

done_checks
