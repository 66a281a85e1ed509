#!/usr/bin/env bash
# Configures and builds mod_idmbalance and its tests into ./build (or $BUILD_DIR): the developer
# and CI build, where warnings are errors (a user's build leaves IDMB_WERROR off).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} -DIDMB_WERROR=ON "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
