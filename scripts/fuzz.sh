#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/) and runs each for
# SECONDS (default 30) on its corpus. New inputs go to a scratch corpus, not
# the repository; a crash stops the run, leaves its input under
# build-fuzz/crashes/ and fails. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# or scripts/fuzz.sh --build-only (builds every target, runs none).
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=false
if [ "${1:-}" = --build-only ]; then build_only=true; shift; fi
seconds=${1:-30}
shift || true
bash scripts/install-deps.sh
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLODE_FUZZ=ON -DCMAKE_UNITY_BUILD=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/*_fuzz.cc; do targets+=("$(basename "$f" _fuzz.cc)"); done
fi
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]/%/_fuzz}" >/dev/null
if $build_only; then exit 0; fi
mkdir -p build-fuzz/crashes
for t in "${targets[@]}"; do
  scratch="build-fuzz/corpus/$t"
  mkdir -p "$scratch"
  rm -f "build-fuzz/crashes/$t-"*  # findings of an earlier run are in the corpus or fixed
  echo "== $t ($seconds s)"
  # -rss_limit_mb and -timeout turn bombs and hangs into findings.
  "build-fuzz/fuzz/${t}_fuzz" "$scratch" "fuzz/corpus/$t" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/crashes/$t-" 2>&1 | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::slowest_unit_time_sec|Slowest unit|==[0-9]+== ?ERROR|SUMMARY)" || true
  if ls "build-fuzz/crashes/$t-"* >/dev/null 2>&1; then
    echo "fuzz.sh: $t crashed; inputs in build-fuzz/crashes/" >&2
    exit 1
  fi
done
