#!/bin/sh
# `trainbench new` with the build tree's binary: what it writes, that the C
# it writes compiles warning-free and computes the right numbers (through
# test_templates, given as $1), and what it refuses — existing files (writing
# nothing at all), names that are not identifiers, names of loaded components.
. "${TB_SOURCE_ROOT:?run through meson test}/tests/e2e/lib.sh"
TEMPLATES=${1:?usage: test_new.sh PATH/TO/test_templates}
INC="$SRC/core/include"
CFLAGS="-O2 -std=c11 -Wall -Wextra -Wpedantic -Werror -shared -fPIC -fvisibility=hidden"

out=$("$TB" new --help 2>&1)
has "new --help" "$out" "usage: trainbench new loss NAME [--dir DIR]"

out=$("$TB" new loss mygce --dir "$WORK/loss" 2>&1)
eq "new loss writes a plugin folder" "$?" 0
has "it says what it wrote" "$out" "$WORK/loss/mygce.c"
for f in mygce.c meson.build README.md; do
  ok "  $f is there" test -s "$WORK/loss/$f"
done
has "the C file names the component" "$(cat "$WORK/loss/mygce.c")" '.name = "mygce"'
has "the C file marks where the reference goes" "$(cat "$WORK/loss/mygce.c")" "REFERENCE:"
has "meson.build builds mygce.so against dependency('trainbench')" \
  "$(tr -d '\n' < "$WORK/loss/meson.build")" "dependency('trainbench')"
has "  as a shared module without a lib prefix" "$(cat "$WORK/loss/meson.build")" "name_prefix : ''"
has "  with hidden visibility" "$(cat "$WORK/loss/meson.build")" "gnu_symbol_visibility : 'hidden'"
readme=$(cat "$WORK/loss/README.md")
has "README: build with meson" "$readme" "meson setup build && meson compile -C build"
has "README: build with cc and pkg-config" "$readme" '$(pkg-config --cflags trainbench) mygce.c'
has "README: check" "$readme" "trainbench check ./build/mygce.so"
has "README: TRAINBENCH_PLUGIN_PATH" "$readme" 'TRAINBENCH_PLUGIN_PATH="$PWD/build"'
has "README: a scenario beside cross_entropy" "$readme" 'loss = tb.grid { "cross_entropy", tb.loss("mygce"'

mkdir -p "$WORK/cwd"
out=$(cd "$WORK/cwd" && "$TB" new optimizer mysgd 2>&1)
ok "new optimizer writes ./NAME by default" test -s "$WORK/cwd/mysgd/mysgd.c"
has "README: a scenario beside sgd" "$(cat "$WORK/cwd/mysgd/README.md")" 'tb.optimizer("mysgd"'

mkdir -p "$WORK/so"
ok "the loss compiles with $CFLAGS" \
  cc $CFLAGS -I "$INC" "$WORK/loss/mygce.c" -o "$WORK/so/mygce.so"
ok "the optimizer compiles with $CFLAGS" \
  cc $CFLAGS -I "$INC" "$WORK/cwd/mysgd/mysgd.c" -o "$WORK/so/mysgd.so"
if command -v clang >/dev/null 2>&1; then
  ok "both compile with clang $CFLAGS" sh -c "clang $CFLAGS -I '$INC' '$WORK/loss/mygce.c' \
    -o '$WORK/clang1.so' && clang $CFLAGS -I '$INC' '$WORK/cwd/mysgd/mysgd.c' -o '$WORK/clang2.so'"
fi
eq "each exports tb_plugin_entry only" \
  "$(nm -D --defined-only "$WORK/so/mygce.so" "$WORK/so/mysgd.so" | awk 'NF == 3 { print $3 }' | sort -u)" \
  tb_plugin_entry

"$TEMPLATES" "$WORK/so/mygce.so" mygce "$WORK/so/mysgd.so" mysgd > "$WORK/templates.log" 2>&1
rc=$?
sed 's/^/      /' "$WORK/templates.log"
eq "the generated loss and optimizer compute the right numbers (test_templates)" "$rc" 0

# refusals
sum_before=$(cat "$WORK/loss/mygce.c" "$WORK/loss/meson.build" "$WORK/loss/README.md" | cksum)
out=$("$TB" new loss mygce --dir "$WORK/loss" 2>&1)
rc=$?
has "new refuses to overwrite, naming the file" "$out" "'$WORK/loss/mygce.c' already exists"
ok "  and fails" test "$rc" -ne 0
eq "  and leaves the files as they were" \
  "$(cat "$WORK/loss/mygce.c" "$WORK/loss/meson.build" "$WORK/loss/README.md" | cksum)" "$sum_before"
rm "$WORK/loss/README.md"
"$TB" new loss mygce --dir "$WORK/loss" >/dev/null 2>&1
ok "with one file of three present it writes nothing at all" test ! -e "$WORK/loss/README.md"
mkdir -p "$WORK/half"
echo "project('mine', 'c')" > "$WORK/half/meson.build"
out=$("$TB" new loss other --dir "$WORK/half" 2>&1)
has "an existing meson.build is refused by name" "$out" "'$WORK/half/meson.build' already exists"
ok "  and other.c is not written" test ! -e "$WORK/half/other.c"

for bad in Bad 9lives my-loss "a b" "" "x.y" "_x"; do
  out=$("$TB" new loss "$bad" --dir "$WORK/bad" 2>&1)
  rc=$?
  has "'$bad' is rejected as a name" "$out" "is not a valid loss name"
  ok "  exit 2, no folder created" sh -c "test $rc -eq 2 && test ! -e '$WORK/bad'"
done
out=$("$TB" new widget foo --dir "$WORK/bad" 2>&1)
has "an unknown kind is rejected" "$out" "unknown kind 'widget' (expected 'loss' or 'optimizer')"

out=$("$TB" new loss cross_entropy --dir "$WORK/ce" 2>&1)
rc=$?
has "a loss named like a bundled one is refused, naming its file" "$out" \
  "loss 'cross_entropy' already exists (loaded from '$TB_BUILD_PLUGINS/losses/cross_entropy.so')"
ok "  exit 1, no folder created" sh -c "test $rc -eq 1 && test ! -e '$WORK/ce'"
out=$("$TB" new optimizer sgd --dir "$WORK/sgd" 2>&1)
has "so is an optimizer named sgd" "$out" "optimizer 'sgd' already exists"
out=$(TRAINBENCH_PLUGIN_PATH="$WORK/so" "$TB" new loss mygce --dir "$WORK/again" 2>&1)
has "and a name loaded from TRAINBENCH_PLUGIN_PATH" "$out" \
  "loss 'mygce' already exists (loaded from '$WORK/so/mygce.so')"
ok "  no folder created" test ! -e "$WORK/again"
out=$("$TB" new optimizer cross_entropy --dir "$WORK/kinds" 2>&1)
ok "a name taken by the other kind only is allowed" test -s "$WORK/kinds/cross_entropy.c"

done_checks
