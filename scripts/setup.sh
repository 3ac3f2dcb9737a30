#!/bin/sh
# Install what is missing (Debian 12 packages), then configure and build trainbench in ./build.
# Idempotent: safe to run before every command. Extra arguments go to `meson setup`.
set -eu
cd "$(dirname "$0")/.."

PKGS="gcc libc6-dev liblua5.4-dev libopenblas-dev libopenblas0-pthread libopenblas0-serial libsqlite3-dev zlib1g-dev libxxhash-dev meson ninja-build pkg-config"
# LIBXSMM's small-matrix kernels (meson option libxsmm, `auto`: used when
# found) are x86 code: Debian ships libxsmm-dev for amd64 only
[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] && PKGS="$PKGS libxsmm-dev"
# the test suite also runs `trainbench check` under valgrind, looks for
# leftover workers with pgrep (procps), submits a sweep to a one-node SLURM
# cluster it starts on loopback (tests/e2e/test_slurm.sh, as root) and builds
# the libFuzzer targets with clang (libclang-rt-14-dev has libFuzzer);
# scripts/test.sh sets this
[ "${TB_TEST_TOOLS:-0}" = 1 ] && PKGS="$PKGS valgrind procps slurmctld slurmd slurm-client munge clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

if [ ! -f build/build.ninja ]; then
  meson setup build "$@"
fi
meson compile -C build
