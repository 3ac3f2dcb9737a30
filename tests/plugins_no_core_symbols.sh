#!/bin/sh
# plugins_no_core_symbols.sh — every plugin under $TB_BUILD_PLUGINS (searched
# recursively) must stand alone: `nm -D --undefined-only` lists no tb_ symbol
# (plugins never link against the core, they get the host through
# tb_host_api), and `nm -D --defined-only` lists tb_plugin_entry and no other
# tb_ symbol (everything else is hidden). Fails if no .so is found at all.
set -u

dir=${TB_BUILD_PLUGINS:-}
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  echo "FAIL TB_BUILD_PLUGINS is not a folder: '$dir'"
  exit 1
fi
if ! command -v nm >/dev/null 2>&1; then
  echo "FAIL 'nm' not found (binutils)"
  exit 1
fi

list=$(mktemp) || exit 1
trap 'rm -f "$list"' EXIT
find "$dir" -name '*.so' -type f | sort >"$list"

count=0
fail=0
while IFS= read -r so; do
  count=$((count + 1))
  # nm prints "  U name" / "addr T name"; keep the last field, drop @VERSION
  undef=$(nm -D --undefined-only "$so" 2>&1) || { echo "FAIL $so: nm: $undef"; fail=1; continue; }
  defs=$(nm -D --defined-only "$so" 2>&1) || { echo "FAIL $so: nm: $defs"; fail=1; continue; }
  bad_undef=$(printf '%s\n' "$undef" | awk '{ sub(/@.*/, "", $NF); print $NF }' | grep '^tb_')
  tb_defs=$(printf '%s\n' "$defs" | awk '{ sub(/@.*/, "", $NF); print $NF }' | grep '^tb_')
  extra=$(printf '%s\n' "$tb_defs" | grep -v '^tb_plugin_entry$')
  if [ -n "$bad_undef" ]; then
    echo "FAIL $so imports core symbols:" $bad_undef
    fail=1
  elif ! printf '%s\n' "$tb_defs" | grep -qx 'tb_plugin_entry'; then
    echo "FAIL $so does not export tb_plugin_entry"
    fail=1
  elif [ -n "$extra" ]; then
    echo "FAIL $so exports tb_ symbols besides tb_plugin_entry:" $extra
    fail=1
  else
    echo "ok   $so"
  fi
done <"$list"

if [ "$count" -eq 0 ]; then
  echo "FAIL no .so file under '$dir'"
  exit 1
fi
echo "$count plugin(s) checked"
exit $fail
