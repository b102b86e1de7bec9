#!/usr/bin/env bash
# GC benchmarks (issue 6): storage kept after untagging half of 10 image
# versions and one rotate/migrate/expire/sweep cycle, against an ideal
# exact-refcount collector; migration throughput on dir:// with 1 and 2
# threads, against copying the same objects without re-sealing them.
# RUNS (default 3) cycles per thread count; throughput is the median.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
bench_build gc_bench
build/bench/gc_bench "${RUNS:-3}"
