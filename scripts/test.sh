#!/usr/bin/env bash
# The one command to run every test: installs what is missing, builds (tests included) and
# runs the unit and integration suites with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
scripts/build.sh -DSLUICE_BUILD_TESTS=ON -DSLUICE_BUILD_BENCH=OFF
cd build
ctest --output-on-failure -j2 --timeout 600 "$@"
