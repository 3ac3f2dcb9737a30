#!/bin/sh
# run.sh TARGET [SECONDS] [LIBFUZZER OPTION...] — fuzz one target (csv,
# script, plugin) for SECONDS (default 600) on its committed corpus.
#
# Builds the targets first in build-fuzz beside the source tree (TB_FUZZ_BUILD
# overrides; configured once: CC=clang -Dfuzz=enabled, ASan and UBSan, -O2 -g).
# New inputs go to build-fuzz/fuzz-corpus/TARGET (kept between runs; fold
# the good ones into the committed corpus with `-merge=1`, see the README);
# a crash, leak, timeout or out-of-memory input to
# build-fuzz/fuzz-artifacts/TARGET/, and the run fails (exit 1). Options
# after SECONDS go to libFuzzer (-jobs=2, -only_ascii=1, ...). Replay one
# input with build-fuzz/tests/fuzz/fuzz_TARGET FILE.
#
# With --suite first (how `meson test --suite fuzz` calls it): new inputs go
# to a temporary folder, and a machine without clang or libFuzzer skips
# (exit 77) instead of failing.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
suite=0
if [ "${1:-}" = --suite ]; then suite=1; shift; fi
if [ $# -lt 1 ]; then
  echo "usage: tests/fuzz/run.sh csv|script|plugin [SECONDS] [LIBFUZZER OPTION...]" >&2
  exit 2
fi
target=$1
shift
secs=600
if [ $# -gt 0 ]; then secs=$1; shift; fi
case $target in
  csv|script|plugin) ;;
  *) echo "run.sh: no fuzz target '$target' (csv, script, plugin)" >&2; exit 2 ;;
esac
build=${TB_FUZZ_BUILD:-$src/build-fuzz}

missing() {
  if [ $suite = 1 ]; then
    echo "SKIP: $1: the fuzz targets need clang and libFuzzer (Debian: clang libclang-rt-14-dev; TB_TEST_TOOLS=1 sh scripts/setup.sh installs them)"
    exit 77
  fi
  echo "run.sh: $1 (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 1
}
command -v clang >/dev/null 2>&1 || missing "clang not found"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }\n' \
  > "$probe/t.c"
clang -fsanitize=fuzzer,address,undefined "$probe/t.c" -o "$probe/t" >"$probe/log" 2>&1 ||
  missing "clang cannot link a libFuzzer target: $(head -n 3 "$probe/log" | tr '\n' ' ')"

# one configure and build at a time (the suite runs the targets in parallel)
mkdir -p "$build"
exec 9>"$build/.fuzz-lock"
flock 9
if [ ! -f "$build/build.ninja" ]; then
  echo "run.sh: configuring $build (clang, libFuzzer, ASan, UBSan)"
  CC=clang meson setup "$build" "$src" -Dfuzz=enabled -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized >"$build/.fuzz-setup.log" 2>&1 || {
    cat "$build/.fuzz-setup.log" >&2
    exit 1
  }
fi
ninja -C "$build" fuzz >"$build/.fuzz-build.log" 2>&1 || {
  tail -n 40 "$build/.fuzz-build.log" >&2
  exit 1
}
flock -u 9

corpus=$src/tests/fuzz/corpus/$target
if [ $suite = 1 ]; then
  work=$probe/new
else
  work=$build/fuzz-corpus/$target
fi
artifacts=$build/fuzz-artifacts/$target
mkdir -p "$work" "$artifacts"
dict=""
[ -f "$src/tests/fuzz/$target.dict" ] && dict="-dict=$src/tests/fuzz/$target.dict"
maxlen=16384
[ $target = plugin ] && maxlen=4096

# leaks count here (the other suites turn LeakSanitizer off); undefined
# behaviour stops the run with its stack
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
echo "run.sh: fuzz_$target for ${secs}s on $corpus (new inputs: $work)"
rc=0
"$build/tests/fuzz/fuzz_$target" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
  -max_len=$maxlen -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" $dict "$@" "$work" "$corpus" || rc=$?
if [ $rc != 0 ]; then
  echo "run.sh: fuzz_$target failed (exit $rc); the input is in $artifacts/" >&2
  echo "run.sh: replay it with $build/tests/fuzz/fuzz_$target FILE" >&2
  exit 1
fi
