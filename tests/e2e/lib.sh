# lib.sh — shared helpers for the end-to-end shell tests (sourced).
# Each test gets a fresh temporary folder, removed at exit, and counts
# checks the same way as the C tests: one line per check, non-zero exit on failure.
set -u
TB=${TB_TRAINBENCH:?run through meson test}
SRC=${TB_SOURCE_ROOT:?}
E2E="$SRC/tests/e2e"
WORK=$(mktemp -d /tmp/tb-e2e-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export TRAINBENCH_PLUGIN_PATH=""
unset TRAINBENCH_DB
fails=0
checks=0

ok() { # ok "description" command...
  desc=$1; shift
  checks=$((checks + 1))
  if "$@" >/dev/null 2>&1; then echo "ok    $desc"; else echo "FAIL  $desc"; fails=$((fails + 1)); fi
}

eq() { # eq "description" actual expected
  checks=$((checks + 1))
  if [ "$2" = "$3" ]; then echo "ok    $1 ($2)"; else echo "FAIL  $1: got '$2', expected '$3'"; fails=$((fails + 1)); fi
}

has() { # has "description" haystack needle
  checks=$((checks + 1))
  case "$2" in
    *"$3"*) echo "ok    $1" ;;
    *) echo "FAIL  $1: '$3' not in:"; printf '%s\n' "$2" | sed 's/^/      /' | head -20; fails=$((fails + 1)) ;;
  esac
}

within() { # within SECONDS command...: poll every 0.05 s until the command succeeds
  limit=$1; shift
  i=0
  while [ "$i" -lt $((limit * 20)) ]; do
    "$@" && return 0
    sleep 0.05
    i=$((i + 1))
  done
  return 1
}

q() { # q DB SQL — one value, CSV without header
  "$TB" query --db "$1" --csv "$2" | tail -n +2
}

done_checks() {
  echo "$((checks - fails)) passed, $fails failed"
  [ "$fails" -eq 0 ]
}
