#!/bin/sh
# Rebuild mod_idmbalance (default build type RelWithDebInfo), then run the benchmark.
# Usage: bench/run_bench.sh [--no-build] [run_bench.py options, e.g. --quick]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
build=${IDMB_BUILD_DIR:-$repo/build}
if [ "${1:-}" = "--no-build" ]; then
    shift
else
    cmake -S "$repo" -B "$build" >/dev/null
    cmake --build "$build" -j2
fi
IDMB_MODULE=${IDMB_MODULE:-$build/mod_idmbalance/mod_idmbalance.so} \
    exec python3 "$here/run_bench.py" "$@"
