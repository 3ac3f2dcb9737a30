#!/bin/sh
# test_check_valgrind.sh — `trainbench check` on the bundled plugins under
# valgrind (memcheck follows the forked checking processes): no definite
# leak and no memory error, in the checker or in any bundled plugin's
# create/eval/step/destroy. A plugin whose destroy forgets to free must be
# caught (the checking process exits with valgrind's status 99, which fails
# its "exit" row), or the test could not fail.
#
# Skipped (exit 77) without valgrind, and in sanitizer builds (valgrind and
# ASan do not mix; test_check.sh runs LeakSanitizer there).
#
# Usage (through meson test): test_check_valgrind.sh DIR_OF_BROKEN_PLUGINS
set -u
TB=${TB_TRAINBENCH:?run through meson test}
DIR=${1:?usage: test_check_valgrind.sh DIR_OF_BROKEN_PLUGINS}
case "${TB_SANITIZE:-none}" in
none | "") ;;
*) echo "skip: sanitizer build ($TB_SANITIZE)"; exit 77 ;;
esac
if ! command -v valgrind >/dev/null 2>&1; then
  echo "skip: valgrind not found (scripts/setup.sh installs it)"
  exit 77
fi
WORK=$(mktemp -d /tmp/tb-check-vg-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export TRAINBENCH_PLUGIN_PATH=""
fails=0
checks=0

vg() {
  valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
    "$TB" check "$@" >"$WORK/out" 2>"$WORK/err"
  rc=$?
}
eq() {
  checks=$((checks + 1))
  if [ "$2" = "$3" ]; then
    echo "ok    $1 ($2)"
  else
    fails=$((fails + 1))
    echo "FAIL  $1: got '$2', expected '$3'"
    sed 's/^/      | /' "$WORK/out" | grep -v '^      | PASS' | head -20
    sed 's/^/      ! /' "$WORK/err" | head -40
  fi
}

# every bundled plugin (about 30 s on one core)
vg
eq "valgrind: trainbench check on the bundled plugins (exit status)" "$rc" 0
eq "valgrind: no FAIL row" "$(grep -c '^FAIL' "$WORK/out")" 0
eq "valgrind: no valgrind report" "$(grep -c '==[0-9]*==' "$WORK/err")" 0

vg "$DIR/leaky.so"
eq "valgrind: a leaking destroy fails the check (exit status)" "$rc" 1
eq "valgrind: the leak fails leaky's exit row" \
  "$(awk '$1 == "FAIL" && $3 == "leaky" { print $4 }' "$WORK/out" | tr '\n' ' ')" "exit "
grep -q 'status 99' "$WORK/out" && r=yes || r=no
eq "valgrind: the row names valgrind's status 99" "$r" yes

echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
