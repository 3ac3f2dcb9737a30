#!/bin/sh
# bench_sweep.sh — what a sweep costs around its runs: 20 one-epoch digits
# runs at -j1 and -j2, each run's wall time as the parent sees it (fork to
# reaping) against its own compute time (measured in the worker), and the
# whole sweep against the sum of the runs' compute. Prints ratios measured in
# this run; asserts nothing about time.
set -eu
TB=${TB_TRAINBENCH:?run through meson test --benchmark}
SRC=${TB_SOURCE_ROOT:?}
WORK=$(mktemp -d /tmp/tb-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export TRAINBENCH_PLUGIN_PATH=""
for j in 1 2; do
  start=$(date +%s.%N)
  "$TB" run "$SRC/tests/perf/tiny.lua" --db "$WORK/j$j.db" -j "$j" >/dev/null 2>&1
  end=$(date +%s.%N)
  "$TB" query --db "$WORK/j$j.db" --csv "SELECT count(*), sum(compute_seconds),
      sum(wall_seconds), median(wall_seconds - compute_seconds) FROM runs" | tail -n 1 |
  awk -F, -v j="$j" -v t0="$start" -v t1="$end" '{ el = t1 - t0
    printf "-j%s: %d runs; per run: wall/compute %.2f, parent overhead (median) %.1f ms;", j, $1, $3 / $2, $4 * 1000
    printf " sweep elapsed / (sum of compute / jobs) %.2f\n", el / ($2 / j) }'
done
