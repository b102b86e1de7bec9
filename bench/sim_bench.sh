#!/usr/bin/env bash
# The fleet simulator's speed and the paper's tier split (issue 26): `lode
# sim` on the shipped configurations, one core, reporting chunk reads of the
# trace per second (every read of every start, sampled or not) and the reads
# simulated per second (the sampled ones go through the caches), with the
# tier split after warm-up.
#   smoke         configs/sim/smoke.json: 20 workers, no sampling
#   paper-split   configs/sim/paper-split.json: 1,000 workers, 36 h,
#                 sampling 5%
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
bench_build lode
for config in smoke paper-split; do
  echo "== $config"
  out=$($lode sim "configs/sim/$config.json" --json)
  python3 - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
run, t = r["run"], r["tiers_after_warmup"]
print("trace reads %d, simulated %d, %.1f s: %.2f M trace reads/s, %.2f M simulated reads/s"
      % (r["trace_reads"], r["reads"], run["wall_seconds"], run["trace_reads_per_second"] / 1e6,
         r["reads"] / run["wall_seconds"] / 1e6))
print("after %g h warm-up: L1 %.1f%%, L2 %.1f%%, origin %.3f%%"
      % (r["config"]["warmup_hours"], 100 * t["l1"], 100 * t["l2"], 100 * t["origin"]))
PY
done
