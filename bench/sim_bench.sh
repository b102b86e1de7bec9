#!/usr/bin/env bash
# The fleet simulator's speed and the paper's tier split (issue 26): `lode
# sim` on the shipped configurations, one core, reporting chunk reads of the
# trace per second (every read of every start, sampled or not) and the reads
# simulated per second (the sampled ones go through the caches), with the
# tier split after warm-up.
#   smoke         configs/sim/smoke.json: 20 workers, no sampling
#   paper-split   configs/sim/paper-split.json: 1,000 workers, 36 h,
#                 sampling 5%
#   paper-week    configs/sim/paper-week.json: the same over 8 days (a day of
#                 warm-up, then the median hour of a week)
#   debian-bases  configs/sim/debian-bases.json: functions on four real
#                 runtime images (configs/sim/debian-images.jsonl, recorded
#                 by bench/record_sim_images.sh)
#   l2-node-loss  configs/sim/l2-node-loss.json: four L2 codes at equal
#                 memory through the loss of one of 20 nodes, sampling 25%
#   l1-scans      configs/sim/l1-scans.json: LRU-2 against LRU in L1 under
#                 one-off scans of L1's size per worker and hour
#   l2-latency    configs/sim/l2-latency.json: 4-of-4, 4-of-5 and hedged
#                 4-of-5 reads with 1% of stripe GETs 10x slower
#   l2-sizing     configs/sim/l2-sizing.json: L2 node sizes, holding against
#                 reloading cost (the five-minute rule)
#   split-sensitivity  configs/sim/split-sensitivity.json: paper-split with
#                 fewer/more workers, L1 halved/doubled, function affinity,
#                 a 10-minute keep-alive
#   l2-emptied    configs/sim/l2-emptied.json: every L2 node restarted at
#                 once, without admission control, with the agent's, with 8
#                 origin fetches per worker (unsampled: admission needs every
#                 read)
#   burst         configs/sim/burst.json: one image from 0 to 15,000 starts/s
#   salt-generations  configs/sim/salt-generations.json: salt periods
# and each configuration's claims. CONFIGS="smoke burst" runs only those.
# First, bench/placement_bench.cc: rendezvous placement over 5, 40 and
# 1,000 servers (one SHA-256 per server), which the simulator does for
# every chunk and function it first places.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
bench_build lode placement_bench
echo "== placement hashing (medians of 3)"
build/bench/placement_bench --benchmark_min_time=1 --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true 2>/dev/null | grep _median
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for config in ${CONFIGS:-smoke paper-split paper-week debian-bases l2-node-loss l1-scans l2-latency l2-sizing split-sensitivity l2-emptied burst salt-generations}; do
  echo "== $config"
  $lode sim "configs/sim/$config.json" --json > "$out"
  python3 - "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
runs = r.get("variants", [r])
timings = r["run"] if isinstance(r["run"], list) else [r["run"]]
for v, run in zip(runs, timings):
    t = v["tiers_after_warmup"]
    print("%s: trace reads %d, simulated %d, %.1f s: %.2f M trace reads/s, %.2f M simulated reads/s"
          % (v.get("name", "run"), v["trace_reads"], v["reads"], run["wall_seconds"],
             run["trace_reads_per_second"] / 1e6, v["reads"] / run["wall_seconds"] / 1e6))
    m = v["tiers_median_hour"]
    print("   median hour after warm-up: L1 %.1f%%, L2 %.1f%%, origin %.3f%% (%d hours)"
          % (100 * m["l1"], 100 * m["l2"], 100 * m["origin"], m["hours"]))
    print("   after %g h warm-up: L1 %.1f%%, L2 %.1f%%, origin %.3f%%; L2 hit ratio by hour: %s"
          % (v["config"]["warmup_hours"], 100 * t["l1"], 100 * t["l2"], 100 * t["origin"],
             " ".join("%.3f" % h["l2_hit_ratio"] for h in v["hours"])))
    o = v["origin"]
    print("   %d invocations, %d warm, %d cold starts (%d failed); origin %.0f GETs, busiest second %.0f, "
          "admission waited %d; hottest L2 node %.2f Gb/s; start fetch p50/p99/p99.9 %.1f/%.1f/%.1f ms"
          % (v["invocations"], v["warm"], v["starts"], v["failed_starts"], o["gets"],
             o["peak_gets_per_second"], o["admission_waited"], v["l2_peak_egress"]["hottest_node_gbps"],
             v["latency_ms"]["start_fetch"]["p50"], v["latency_ms"]["start_fetch"]["p99"],
             v["latency_ms"]["start_fetch"]["p999"]))
    if v["sharing"]:
        sh = v["sharing"]
        print("   sharing: %.3f keys per content, images per key max %d, mean %.1f"
              % (sh["keys_per_content"], sh["max_images_per_key"], sh["mean_images_per_key"]))
for c in r.get("claims", []):
    print("   claim %s: %s = %s" % ("passes" if c["pass"] else "FAILS", c["claim"], c["value"]))
PY
done
