#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 and runs each one for a while.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 300 s, every target)
#
# Environment:
#   BUILD_DIR  build tree (default /tmp/idmb-fuzz-build); a CMake build with -DIDMB_FUZZ=ON
#   JOBS       targets run at once (default: the number of CPUs)
#   CXX        compiler (default clang++-14)
#   FUZZ_ARGS  extra libFuzzer arguments (e.g. "-jobs=2" or "-only_ascii=1")
#
# Each target reads the repository's seeds (tests/fuzz/corpus/<target>, never written) and
# adds what it finds to $BUILD_DIR/tests/fuzz/corpus/<target>, so later runs start from there.
# Crash, timeout and OOM inputs go to $BUILD_DIR/tests/fuzz/artifacts/<target>/; the full
# output to $BUILD_DIR/tests/fuzz/logs/<target>.log. Exits non-zero if any target failed.
# Reproduce a crash with:  $BUILD_DIR/tests/fuzz/<target> <crash file>
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-300}
shift || true
build=${BUILD_DIR:-/tmp/idmb-fuzz-build}
jobs=${JOBS:-$(nproc)}
cxx=${CXX:-clang++-14}

if ! command -v "$cxx" >/dev/null; then
  echo "run.sh: $cxx not found (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi

cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DIDMB_FUZZ=ON -DIDMB_BUILD_MODULE=OFF \
      -DIDMB_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$here"/fuzz_*.cc; do targets+=("$(basename "$f" .cc)"); done
fi

out="$build/tests/fuzz"
mkdir -p "$out/logs"

run_one() {
  local t=$1
  local work="$out/corpus/$t" artifacts="$out/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  local dict=()
  [ -f "$here/dict/$t.dict" ] && dict=(-dict="$here/dict/$t.dict")
  # shellcheck disable=SC2086
  "$out/$t" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -max_len=12000 -print_final_stats=1 \
            -artifact_prefix="$artifacts/" "${dict[@]}" ${FUZZ_ARGS:-} "$work" "$here/corpus/$t" \
            >"$out/logs/$t.log" 2>&1
  echo $? >"$out/logs/$t.rc"
}
export -f run_one
export out here seconds FUZZ_ARGS

echo "fuzzing ${#targets[@]} targets for ${seconds}s each, $jobs at a time (logs: $out/logs)"
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@" || true' _ {}

status=0
printf '\n%-20s %5s %12s %9s %7s %7s %8s  %s\n' target rc executions exec/s cov ft corpus crashes
for t in "${targets[@]}"; do
  log="$out/logs/$t.log"
  rc=$(cat "$out/logs/$t.rc" 2>/dev/null || echo '?')
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  crashes=$(find "$out/artifacts/$t" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \
            -o -name 'leak-*' \) 2>/dev/null | sort | tr '\n' ' ')
  printf '%-20s %5s %12s %9s %7s %7s %8s  %s\n' "$t" "$rc" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" \
         "${corp:-?}" "${crashes:-none}"
  if [ "$rc" != 0 ]; then
    status=1
    grep -m1 -E 'fuzz property failed|ERROR: (AddressSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error' \
      "$log" | sed 's/^/    /' || true
  fi
done
exit $status
