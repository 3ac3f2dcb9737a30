#!/bin/sh
# Install what is missing, build, and run the quickstart benchmark into results/trainbench.db.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
./build/trainbench run scripts/quickstart.lua "$@"
