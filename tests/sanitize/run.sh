#!/usr/bin/env bash
# The sanitizer stage of scripts/test.sh, which can also be run alone:
#
#   tests/sanitize/run.sh [CTEST_ARGS...]     e.g. -V, or --timeout 3000
#
# Builds the core, the unit tests and the module with GCC, AddressSanitizer and UBSan
# (-DIDMB_SANITIZE=ON; a UBSan finding aborts) in $ASAN_BUILD_DIR (default build-asan/), then
# runs there the unit tests (ctest -L unit) and the integration suite (ctest -R ^integration$:
# not the private-checkout copy of it, nor the package test, which would add time and no
# coverage). The suite's apache2 gets libasan preloaded and its reports in files, and fails on
# any (tests/integration/stack.py apache_env, conftest.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${ASAN_BUILD_DIR:-build-asan}
BUILD_DIR=$dir scripts/build.sh -DIDMB_SANITIZE=ON
cd "$dir"
ctest --output-on-failure -L unit -j"$(nproc)" "$@"
ctest --output-on-failure -R '^integration$' "$@"
