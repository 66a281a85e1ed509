#!/usr/bin/env bash
# One command for all tests: installs what is missing, builds, runs unit and integration tests
# (real apache2 + real Tomcat 10, started and stopped by the test harness).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure "$@"
