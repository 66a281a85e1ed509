#!/usr/bin/env bash
# One command for all tests: installs what is missing, builds, runs unit, integration and package
# tests (real apache2 + real Tomcat 10, started and stopped by the test harness), then builds
# the libFuzzer targets with clang-14 and runs each for a short bounded time, then runs the unit
# and integration tests again against an ASan + UBSan build in build-asan/ (tests/sanitize/run.sh).
# Arguments go to ctest for the main build (e.g. -L unit); with arguments the fuzz and sanitizer
# steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure "$@")
if [ $# -eq 0 ]; then
  FUZZ_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
  CXX=clang++-14 cmake -S . -B "$FUZZ_DIR" -DIDMB_FUZZ=ON -DIDMB_BUILD_MODULE=OFF -DIDMB_BUILD_TESTS=OFF \
    -DIDMB_WERROR=ON >/dev/null
  cmake --build "$FUZZ_DIR" -j"$(nproc)"
  (cd "$FUZZ_DIR" && ctest -L fuzz -j"$(nproc)" --output-on-failure)
  tests/sanitize/run.sh
fi
