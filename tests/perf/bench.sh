#!/bin/bash
# bench.sh — the performance harness of issue 9: every figure a ratio
# measured in this one run (absolute times are printed beside, never as the
# result), against the issue's targets. Asserts nothing about time.
#
#   tests/perf/bench.sh [SECTION...]        (from a source tree built in build/)
#   meson test -C build --benchmark         (each section is a benchmark)
#
# Sections (all of them when none is named):
#   floor     whole runs in one process against the floor of their sgemm
#             calls (training + evaluation): the digits grid (digits_grid.lua)
#             and a 784-512-512-10 MLP on synthetic data (big_mlp.lua); and
#             recording (worker lines, parse, store) against the runs' compute
#   torch     the digits grid as whole processes: `trainbench run` against
#             PyTorch (torch_digits.py under /usr/bin/python3, skipped when it
#             cannot import torch), -j1 against one python, -j2 against two;
#             per run inside the loop; trainbench's process overhead per run
#   jobs      runs/s of a 200-run sweep (jobs200.lua) at -j1 and -j2
#   query     the best-configuration queries and `summary` on a generated
#             100 000-run database (bench_db.c from query_base.lua's sweep)
#   overhead  what a sweep costs around its runs (bench_sweep.sh)
#
# Environment: TB_BENCH_ROUNDS (default 2) whole-process measurements per
# side, the least disturbed kept; TB_BENCH_QUERY_LIMIT (default 20) seconds
# after which a query is stopped and reported as over it; TB_PYTHON (default
# /usr/bin/python3). The generated database is kept in the build tree
# (tests/perf/bench-100k.db, ~1.7 GB) and made again when the schema or
# core/store.c changes.
set -eu
SRC=${TB_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${TB_BUILD_ROOT:-$SRC/build}
TB=${TB_TRAINBENCH:-$BUILD/trainbench}
PERF=$SRC/tests/perf
PY=${TB_PYTHON:-/usr/bin/python3}
ROUNDS=${TB_BENCH_ROUNDS:-2}
QLIMIT=${TB_BENCH_QUERY_LIMIT:-20}
export TB_BUILD_PLUGINS=${TB_BUILD_PLUGINS:-$BUILD/plugins}
export TRAINBENCH_PLUGIN_PATH=""
export TB_TRAINBENCH=$TB TB_SOURCE_ROOT=$SRC
for f in "$TB" "$BUILD/tests/perf/bench_run" "$BUILD/tests/perf/bench_db"; do
  [ -x "$f" ] || { echo "bench.sh: $f not built (ninja -C $BUILD)" >&2; exit 1; }
done
WORK=$(mktemp -d /tmp/tb-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
RESULTS=$WORK/results

# elapsed, user + system seconds of a command (its output to $OUT, else discarded)
timed() {
  local TIMEFORMAT='%R %U %S' t
  t=$( { time "$@" >"${OUT:-/dev/null}" 2>&1; } 2>&1 ) || { echo "bench.sh: failed: $*" >&2; return 1; }
  echo "$t" | awk '{ printf "%.4f %.4f\n", $1, $2 + $3 }'
}
# awk arithmetic; the expression in parentheses, or printf would take > for a redirection
calc() { awk "BEGIN { printf \"$1\", ($2) }"; }
# a result line: what, value, target; also kept for the summary at the end
result() {
  printf '  => %-50s %s   (target %s)\n' "$1" "$2" "$3"
  printf '%-52s %-12s %s\n' "$1" "$2" "$3" >>"$RESULTS"
}
# a query's rows as CSV, without the header (name every column: a header
# that spans lines would be taken for rows)
q() { "$TB" query --db "$1" --csv "$2" | tail -n +2; }

section_floor() {
  echo "== floor: a whole run in one process against the sgemm calls it makes =="
  echo "   (run: tb_train_run, setup + steps + every evaluation; floor: the bare sgemm"
  echo "   calls of the same steps and evaluation passes on the same shapes, timed"
  echo "   right after it; ratio, train, eval: medians over the runs of run / floor)"
  "$BUILD/tests/perf/bench_run" "$PERF/digits_grid.lua" --db "$WORK/floor.db" | tee "$WORK/floor.txt"
  "$BUILD/tests/perf/bench_run" "$PERF/big_mlp.lua" | tail -n 1 | tee -a "$WORK/floor.txt"
  local d b r rows
  rows=$(q "$WORK/floor.db" "SELECT ((SELECT count(*) FROM metrics) + (SELECT count(*) FROM series)
    + (SELECT count(*) FROM params) + (SELECT count(*) FROM final_metrics)
    + (SELECT count(*) FROM best_metrics) + (SELECT count(*) FROM confusion)
    + (SELECT count(*) FROM calibration) + (SELECT count(*) FROM counters)
    + (SELECT count(*) FROM timings) + (SELECT count(*) FROM series_info)
    + (SELECT count(*) FROM run_components)) / count(*) AS n FROM runs")
  echo "   (the digits grid's runs are $rows rows each in the database)"
  d=$(awk '$1 == "digits_grid" { print $(NF-3) }' "$WORK/floor.txt")
  b=$(awk '$1 == "big_mlp" { print $(NF-3) }' "$WORK/floor.txt")
  r=$(sed -n 's/.*, \([0-9.]*\) % of their compute time/\1/p' "$WORK/floor.txt")
  result "digits grid: run / its GEMM floor" "${d}x" "<= 1.3x"
  result "784-512-512-10 b256: run / its GEMM floor" "${b}x" "<= 1.3x"
  result "recording / the runs' compute (digits grid)" "$r %" "< 2 %"
}

section_torch() {
  echo "== torch: the digits grid (18 runs) as whole processes, trainbench against PyTorch =="
  local n=18 i t tb1 tb2 py1 py2 comp sumc wall acc
  local have_torch=1
  if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    have_torch=0
    echo "   PyTorch skipped: $PY cannot import torch (Debian: apt-get install python3-torch)"
  fi
  # each side's least disturbed round, with what that round measured inside
  tb1=1e9 py1=1e9
  for i in $(seq "$ROUNDS"); do
    rm -f "$WORK"/g1.db*
    t=$(timed "$TB" run "$PERF/digits_grid.lua" -j1 --db "$WORK/g1.db")
    if [ "$(calc %d "${t% *} < $tb1")" = 1 ]; then
      tb1=${t% *}
      IFS=, read -r comp sumc wall acc <<<"$(q "$WORK/g1.db" "SELECT median(compute_seconds) AS a,
        sum(compute_seconds) AS b, median(wall_seconds) AS c, avg(f.value) AS d FROM runs r JOIN final_metrics f
        ON f.run_id = r.id AND f.split = 'test' AND f.name = 'accuracy'")"
    fi
    if [ $have_torch = 1 ]; then
      t=$(OUT=$WORK/torch.txt timed "$PY" "$PERF/torch_digits.py" "$SRC/data/digits.csv.gz")
      if [ "$(calc %d "${t% *} < $py1")" = 1 ]; then
        py1=${t% *}
        cp "$WORK/torch.txt" "$WORK/torch-best.txt"
      fi
    fi
  done
  # -j2 against two python processes, once
  rm -f "$WORK"/g2.db*
  t=$(timed "$TB" run "$PERF/digits_grid.lua" -j2 --db "$WORK/g2.db")
  tb2=${t% *}
  if [ $have_torch = 1 ]; then
    t=$(timed sh -c "'$PY' '$PERF/torch_digits.py' '$SRC/data/digits.csv.gz' --shard 1/2 &
      '$PY' '$PERF/torch_digits.py' '$SRC/data/digits.csv.gz' --shard 2/2; wait")
    py2=${t% *}
  fi
  echo "   (-j1 against one python process: the least disturbed of $ROUNDS rounds; -j2 against"
  echo "   two python processes of 9 runs each at once, one round)"
  printf '   trainbench -j1: %.2f s (%.0f ms per run; worker compute median %.1f ms, sum %.2f s;\n' \
    "$tb1" "$(calc %.4f "$tb1 / $n * 1000")" "$(calc %.4f "$comp * 1000")" "$sumc"
  printf '     the parent'"'"'s wall per run median %.1f ms; mean test accuracy %.4f)\n' \
    "$(calc %.4f "$wall * 1000")" "$acc"
  printf '   trainbench -j2: %.2f s\n' "$tb2"
  result "trainbench -j1 process per run / worker compute" \
    "$(calc %.2fx "$tb1 / $n / $comp")" "-"
  if [ $have_torch = 1 ]; then
    local loop imp tacc total
    loop=$(sed -n 's/.*in-loop median \([0-9.]*\) ms.*/\1/p' "$WORK/torch-best.txt")
    total=$(sed -n 's/.*loop total \([0-9.]*\) s.*/\1/p' "$WORK/torch-best.txt")
    imp=$(sed -n 's/.*import \([0-9.]*\) s.*/\1/p' "$WORK/torch-best.txt")
    tacc=$(sed -n 's/.*mean test accuracy \([0-9.]*\).*/\1/p' "$WORK/torch-best.txt")
    printf '   PyTorch, one process: %.2f s (%.0f ms per run; in-loop median %.1f ms, loop %.2f s,\n' \
      "$py1" "$(calc %.4f "$py1 / $n * 1000")" "$loop" "$total"
    printf '     import %.2f s; mean test accuracy %.4f); two processes: %.2f s\n' \
      "$imp" "$tacc" "$py2"
    result "PyTorch / trainbench, whole process -j1" "$(calc %.2fx "$py1 / $tb1")" ">= 10x"
    result "PyTorch / trainbench, whole process -j2" "$(calc %.2fx "$py2 / $tb2")" "-"
    result "PyTorch / trainbench, per run in the loop" \
      "$(calc %.2fx "$loop / 1000 / $comp")" "-"
  fi
}

section_jobs() {
  echo "== jobs: runs/s of a 200-run sweep (jobs200.lua) at -j1 and -j2 =="
  local j t el cpu rate1 rate2 eff1 eff2 n comp
  for j in 1 2; do
    rm -f "$WORK"/j$j.db*
    t=$(timed "$TB" run "$PERF/jobs200.lua" -j$j --db "$WORK/j$j.db")
    el=${t% *} cpu=${t#* }
    IFS=, read -r n comp <<<"$(q "$WORK/j$j.db" "SELECT count(*) AS n, median(compute_seconds) AS c FROM runs")"
    eval rate$j='$(calc %.4f "$n / $el")' eff$j='$(calc %.4f "$n / $cpu")'
    printf '   -j%d: %d runs in %.2f s: %.2f runs/s; CPU time / elapsed %.2f (cores it got);' \
      "$j" "$n" "$el" "$(calc %.4f "$n / $el")" "$(calc %.4f "$cpu / $el")"
    printf ' run compute median %.1f ms\n' "$(calc %.4f "$comp * 1000")"
  done
  printf '   runs per CPU-second (user + system), -j2 / -j1: %.2f (1 when a second worker costs\n' \
    "$(calc %.4f "$eff2 / $eff1")"
  echo "   nothing but its own runs; -j2 / -j1 in runs/s is also bound by the cores the machine gave)"
  result "runs/s at -j2 / at -j1 (200 runs)" "$(calc %.2fx "$rate2 / $rate1")" ">= 1.9x"
}

section_query() {
  echo "== query: the best configuration on a generated 100 000-run database =="
  local db=$BUILD/tests/perf/bench-100k.db key t
  rm -f "$WORK"/base.db*
  "$TB" run "$PERF/query_base.lua" -j2 --db "$WORK/base.db" >/dev/null 2>&1
  # the cached database is good while the schema (views included) and the
  # code that writes it are those of this build
  key=$( { q "$WORK/base.db" "SELECT type, name, sql FROM sqlite_master ORDER BY name";
           cat "$SRC/core/store.c"; } | md5sum | cut -c1-32)
  if [ -f "$db" ] && [ "$(cat "$db.key" 2>/dev/null)" = "$key" ]; then
    echo "   $db: kept from an earlier run (same schema and store.c)"
  else
    rm -f "$db" "$db.key" "$db"-wal "$db"-shm
    printf '   generating %s: ' "$db"
    "$BUILD/tests/perf/bench_db" "$WORK/base.db" "$db" 100000
    echo "$key" >"$db.key"
  fi
  q "$db" "SELECT count(*) || ' runs, ' || count(DISTINCT group_hash) || ' configurations, '
    || (SELECT count(*) FROM params) || ' params rows, ' || (SELECT count(*) FROM metrics)
    || ' metrics rows' AS info FROM runs" | tr -d '"' | sed 's/^/   /'
  local best_sql cfg_sql
  best_sql='SELECT loss, optimizer, "optimizer.lr" AS lr, count(*) AS seeds,
       avg("val.accuracy") AS val, avg("test.accuracy") AS test, stdev("test.accuracy") AS sd
FROM results WHERE scenario = '"'quickstart'"' AND status = '"'complete'"'
GROUP BY group_hash ORDER BY val DESC LIMIT 5;'
  cfg_sql="SELECT loss, optimizer, val_accuracy, n_val, test_accuracy, test_accuracy_sd, diverged, failed
FROM current_configs WHERE scenario = 'quickstart' ORDER BY val_accuracy DESC LIMIT 5;"
  # name, then the command; up to 3 times (once when over 5 s), the median;
  # a result unless the name starts with '('
  one_query() {
    local name=$1 i t ts="" over=0
    shift
    for i in 1 2 3; do
      t=$(TIMEFORMAT=%R; { time timeout "$QLIMIT" "$@" >/dev/null 2>&1; } 2>&1) || { over=1; break; }
      ts="$ts $t"
      [ "$(calc %d "$t > 5")" = 1 ] && break
    done
    if [ $over = 1 ]; then
      printf '   %-44s > %s s (stopped)\n' "$name" "$QLIMIT"
      result "$name / 0.5 s" "> $(calc %.0fx "$QLIMIT / 0.5")" "< 1x"
    else
      t=$(echo $ts | tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
      printf '   %-44s %.3f s  (of:%s)\n' "$name" "$t" "$ts"
      [ "${name#(}" = "$name" ] && result "$name / 0.5 s" "$(calc %.2fx "$t / 0.5")" "< 1x"
    fi
    return 0
  }
  one_query "(the process alone: query 'SELECT 1')" "$TB" query --db "$db" "SELECT 1"
  one_query "README best-configuration query (results)" "$TB" query --db "$db" "$best_sql"
  one_query "README current_configs query" "$TB" query --db "$db" "$cfg_sql"
  one_query "trainbench summary --best" "$TB" summary --db "$db" --scenario quickstart --best
  one_query "trainbench summary (20 000 configurations)" "$TB" summary --db "$db"
}

section_overhead() {
  echo "== overhead: a sweep around its runs (bench_sweep.sh: 20 one-epoch runs) =="
  sh "$PERF/bench_sweep.sh" | sed 's/^/   /'
}

sections=${*:-floor torch jobs query overhead}
date -u +"trainbench performance harness, %Y-%m-%d %H:%M UTC; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $sections; do
  case $s in
  floor | torch | jobs | query | overhead) "section_$s" ;;
  *) echo "bench.sh: unknown section '$s' (floor, torch, jobs, query, overhead)" >&2; exit 2 ;;
  esac
done
if [ -s "$RESULTS" ] && [ "$(echo $sections | wc -w)" -gt 1 ]; then
  echo "== summary: ratios measured in this run; load now $(cut -d' ' -f1-3 /proc/loadavg) =="
  sed 's/^/   /' "$RESULTS"
fi
