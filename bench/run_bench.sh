#!/bin/sh
# Build mod_idmbalance and the instant AJP backend in build-bench/ (RelWithDebInfo: optimised,
# with symbols for callgrind), then run the benchmark. See bench/README.md.
# Usage: bench/run_bench.sh [--no-build] [run_bench.py options, e.g. --quick]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
build=${IDMB_BENCH_BUILD_DIR:-$repo/build-bench}
if [ "${1:-}" = "--no-build" ]; then
    shift
else
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIDMB_BUILD_TESTS=ON >/dev/null
    cmake --build "$build" -j2 --target mod_idmbalance idmb_instant_ajp
fi
IDMB_MODULE=${IDMB_MODULE:-$build/mod_idmbalance/mod_idmbalance.so} \
IDMB_INSTANT_AJP=${IDMB_INSTANT_AJP:-$build/tests/bench/idmb_instant_ajp} \
    exec python3 "$here/run_bench.py" "$@"
