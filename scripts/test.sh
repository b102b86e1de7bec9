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
run_suite() {
  local dir=$1
  shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j 1)
}

echo "== Release build and tests"
run_suite build -DCMAKE_BUILD_TYPE=Release
echo "== Debug + ASan/UBSan build and tests"
run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DLODE_ASAN=ON
echo "== Fuzz smoke: every libFuzzer target for 20 s on its corpus"
bash scripts/fuzz.sh 20
