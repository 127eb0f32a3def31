#!/usr/bin/env bash
# The one command to run Sluice: installs what is missing, builds, and serves on
# http://127.0.0.1:8080 with its SQLite store under ./var. Arguments go to `sluice serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build.sh -DSLUICE_BUILD_TESTS=OFF -DSLUICE_BUILD_BENCH=OFF
exec build/sluice serve "$@"
