#!/usr/bin/env bash
# The test command: installs dependencies, builds lode twice (Release, and
# Debug with AddressSanitizer and UBSan) and runs every test in both. Needs
# root (integration tests mount images) and Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc)
# Downloads (the Debian rootfs built by mmdebstrap) are shared by both builds.
export LODE_CACHE_DIR="${LODE_CACHE_DIR:-$PWD/.cache}"
# run_suite DIR "CTEST ARGS" CMAKE ARGS...
run_suite() {
  local dir=$1 ctest_args=$2
  shift 2
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  # shellcheck disable=SC2086
  (cd "$dir" && ctest --output-on-failure -j 1 $ctest_args)
}

echo "== Release build and tests"
run_suite build "" -DCMAKE_BUILD_TYPE=Release
# The microVM suites (label vm) run in Release only: their time goes to
# QEMU booting guests under TCG, which the sanitizers do not instrument;
# lode's side of them (agent, attach, run) runs under the sanitizers in
# the run, handover and function suites. So does the registry suite (label
# heavy): under the sanitizers it spends five minutes in gzip and skopeo
# on large layers, while lode's registry and decompression code runs
# sanitized in the unit tests and the fuzz targets' corpora. The
# benchmarks are not built there.
echo "== Debug + ASan/UBSan build and tests (all but the microVM and heavy suites)"
run_suite build-asan "-LE vm|heavy" -DCMAKE_BUILD_TYPE=Debug -DLODE_ASAN=ON -DLODE_BENCH=OFF
echo "== Fuzz smoke: every libFuzzer target for 20 s on its corpus"
bash scripts/fuzz.sh 20
