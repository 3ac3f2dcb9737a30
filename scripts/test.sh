#!/bin/sh
# Install what is missing, build, and run the whole test suite (every meson
# suite: unit, plugins, lua, store, e2e, fuzz), then the same suites but fuzz
# once more in a build with AddressSanitizer and UBSan (build-asan), where
# undefined behaviour ends the process that meets it (meson.build). Extra arguments go to
# both `meson test` runs. TB_NO_ASAN=1 runs the plain suites only.
set -eu
cd "$(dirname "$0")/.."
TB_TEST_TOOLS=1 sh scripts/setup.sh

# one plain closing line per run, whatever runner reads the output
summary() {
  python3 - "$1/meson-logs/testlog.json" "$2" <<'PY' || true
import json, sys
res = [json.loads(l)["result"] for l in open(sys.argv[1]) if l.strip()]
ok = sum(r in ("OK", "EXPECTEDFAIL") for r in res)
skip = sum(r == "SKIP" for r in res)
print(f"tests{sys.argv[2]}: {ok} passed, {len(res) - ok - skip} failed, {skip} skipped")
PY
}

rc=0
meson test -C build --print-errorlogs "$@" || rc=$?
summary build ""

if [ "${TB_NO_ASAN:-0}" != 1 ]; then
  # the fuzz suite already ran its targets under both sanitizers (build-fuzz)
  if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan -Db_sanitize=address,undefined >/dev/null
  fi
  meson compile -C build-asan >/dev/null
  asan_rc=0
  UBSAN_OPTIONS=print_stacktrace=1 meson test -C build-asan --print-errorlogs --no-suite fuzz "$@" || asan_rc=$?
  summary build-asan " (ASan, UBSan)"
  [ $asan_rc = 0 ] || rc=$asan_rc
fi
exit $rc
