#!/bin/sh
# Install what is missing, build, and run the whole test suite (every meson
# suite: unit, plugins, lua, store, e2e). Extra arguments go to `meson test`.
set -eu
cd "$(dirname "$0")/.."
TB_TEST_TOOLS=1 sh scripts/setup.sh
rc=0
meson test -C build --print-errorlogs "$@" || rc=$?
# one plain closing line, whatever runner reads the output
python3 - build/meson-logs/testlog.json <<'PY' || true
import json, sys
res = [json.loads(l)["result"] for l in open(sys.argv[1]) if l.strip()]
ok = sum(r in ("OK", "EXPECTEDFAIL") for r in res)
skip = sum(r == "SKIP" for r in res)
print(f"tests: {ok} passed, {len(res) - ok - skip} failed, {skip} skipped")
PY
exit $rc
