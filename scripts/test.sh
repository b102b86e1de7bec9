#!/usr/bin/env bash
# The test command: installs dependencies, builds lode twice (Release, and
# Debug with AddressSanitizer and UBSan) and runs every test in both, then
# every fuzz target for a while. Needs root (integration tests mount
# images) and Debian 12.
#
# Each later build runs beside the tests of the one before, at the lowest
# CPU and I/O priority: the integration tests mostly wait (on servers,
# guests, downloads), and the build takes what they leave without slowing
# them.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc)
# Downloads (the Debian rootfs built by mmdebstrap) are shared by both builds.
export LODE_CACHE_DIR="${LODE_CACHE_DIR:-$PWD/.cache}"

background_pid=""
background_log=""
# background COMMAND...: starts it in a process group of its own (so a
# failure here can stop all of it), output to a log shown if it fails.
background() {
  background_log=$(mktemp /tmp/lode-test-build.XXXXXX)
  setsid nice -n 19 ionice -c 3 "$@" >"$background_log" 2>&1 &
  background_pid=$!
}
finish_background() {
  if ! wait "$background_pid"; then
    tail -n 60 "$background_log" >&2
    echo "test.sh: the background build failed: $*" >&2
    exit 1
  fi
  background_pid=""
  rm -f "$background_log"
}
stop_background() {
  if [ -n "$background_pid" ]; then kill -- "-$background_pid" 2>/dev/null || true; fi
}
trap stop_background EXIT

# The microVM suites (label vm) run in Release only: their time goes to
# QEMU booting guests under TCG, which the sanitizers do not instrument;
# lode's side of them (agent, attach, run) runs under the sanitizers in
# the run, handover and function suites. So does the registry suite (label
# heavy): under the sanitizers it spends five minutes in gzip and skopeo
# on large layers, while lode's registry and decompression code runs
# sanitized in the unit tests and the fuzz targets' corpora. The
# benchmarks are not built there.
# Unity builds: a target's sources compiled a few to a file, which halves
# the compile time (each file still compiled once; the normal build keeps
# every file on its own).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD=ON >/dev/null
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLODE_ASAN=ON -DLODE_BENCH=OFF \
  -DCMAKE_UNITY_BUILD=ON >/dev/null

echo "== Release build"
cmake --build build -j "$jobs"
echo "== Release tests (the ASan/UBSan build beside them)"
background cmake --build build-asan -j "$jobs"
(cd build && ctest --output-on-failure -j 1)
echo "== Debug + ASan/UBSan build (the rest of it)"
finish_background "build-asan"
echo "== ASan/UBSan tests: all but the microVM and heavy suites (the fuzz build beside them)"
background bash scripts/fuzz.sh --build-only
(cd build-asan && ctest --output-on-failure -j 1 -LE "vm|heavy")
finish_background "scripts/fuzz.sh --build-only"
echo "== Fuzz smoke: every libFuzzer target for 20 s on its corpus"
bash scripts/fuzz.sh 20
