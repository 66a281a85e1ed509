#!/usr/bin/env bash
# One command for the demo: installs what is missing, builds, starts two Tomcat 10 instances and
# httpd with mod_idmbalance on loopback, and prints the URL to open. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
export IDMB_MODULE="$PWD/${BUILD_DIR:-build}/mod_idmbalance/mod_idmbalance.so"
exec python3 tests/integration/stack.py up --workdir "${IDMB_DEMO_DIR:-/tmp/idmbalance-demo}" "$@"
