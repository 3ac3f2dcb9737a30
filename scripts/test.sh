#!/bin/sh
# Install what is missing, build, and run the whole test suite (every meson suite).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
meson test -C build --print-errorlogs "$@"
