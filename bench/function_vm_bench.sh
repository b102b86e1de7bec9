#!/usr/bin/env bash
# Functions in microVMs and SnapStart (issue 25), in one run, on the same
# accelerator (TCG on hosts without usable VT-x/AMD-V), with the Node.js
# function of bench/function_bench.sh (AWS's runtime interface client):
#   cold      the first invocation on a host that never ran the function,
#             through `lode serve`'s Invoke API (curl: request sent to
#             response received), agent restarted on an empty cache and
#             store files evicted before each, startup profiles recorded by
#             one untimed start of each beforehand; RUNS runs (default 5),
#             alternating, medians, for:
#             - container: the function in a crun container
#             - vm:        the function in a microVM (boot + init)
#             - snapstart: the function's published snapshot restored
#               (packed: the pages a restore reads stored together)
#             - snapstart-sampled: the same, published with a sample
#               event (the pages its first invocation reads packed too)
#   warm      1,000 sequential invocations on one connection, round trip
#             and REPORT duration (the event delivered until the answer:
#             the relay into the guest and back, and the runtime) p50/p99,
#             of the Node.js function in a microVM, and of the smallest
#             runtime (python3's http.client answering each event with itself) in a microVM
#             and in a container: what the runtime costs under emulation,
#             and what the path into the guest costs
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
source bench/common.sh
bench_build lode lode-testgen
node_rootfs="$cache/debian-bookworm-lambda-node.tar"
[ -f "$node_rootfs" ] || echo "== building the Node.js Lambda rootfs (mmdebstrap + npm, ~3 min)"
bash scripts/lambda-node-rootfs.sh "$node_rootfs"
bench_store function-vm-bench
$testgen function-node --rootfs "$node_rootfs" -o "$work/oci" --compression gzip >/dev/null
$lode push "$work/oci" --tenant bench --tag node >/dev/null
python_rootfs="$cache/debian-bookworm-python3-curl.tar"
bash scripts/debian-rootfs.sh "$python_rootfs" curl
$testgen function-echo --rootfs "$python_rootfs" -o "$work/echo-oci" --compression gzip >/dev/null
$lode push "$work/echo-oci" --tenant bench --tag echo >/dev/null
$lode function create echo-container --image echo --tenant bench --timeout 60 >/dev/null
$lode function create echo-vm --vm --image echo --tenant bench --timeout 60 >/dev/null
$lode function create container --image node --tenant bench --timeout 60 >/dev/null
$lode function create vm --vm --image node --tenant bench --timeout 60 >/dev/null
$lode function create snapstart --vm --snapstart --image node --tenant bench --timeout 60 >/dev/null
$lode function create snapstart-sampled --vm --snapstart --image node --tenant bench --timeout 60 \
  >/dev/null

trap bench_cleanup EXIT

invoke() { # FUNCTION: seconds
  curl -s -o "$work/answer" -w '%{time_total}\n' -X POST -d '{"bench": true}' \
    "127.0.0.1:$serve_port/2015-03-31/functions/$1/invocations"
  grep -qE '"bench": ?true' "$work/answer" || { echo "bad answer: $(cat "$work/answer")" >&2; exit 1; }
}

cold() { # FUNCTION: seconds of its first invocation on a fresh host
  bench_start_agent --prefetch profile
  bench_evict "$work/store"
  bench_start_serve --init-timeout 300
  invoke "$1"
  bench_stop_serve
}

echo "== publishing the SnapStart functions"
bench_start_agent --prefetch profile
$lode function publish snapstart --tenant bench --socket "$work/sock" --json 2>>"$work/publish.log" |
  tee "$work/published.json"
$lode function publish snapstart-sampled --sample-event '{"sample": true}' --tenant bench \
  --socket "$work/sock" --json 2>>"$work/publish.log" | tee "$work/published-sampled.json"
functions="container vm snapstart snapstart-sampled"
echo "== cold invokes: recording the startup profiles (one untimed start each)"
for f in $functions; do
  cold "$f" >/dev/null
  sleep 3 # the agent writes the profile when the start goes quiet
done
for i in $(seq "$RUNS"); do
  for f in $functions; do cold "$f" >>"$work/cold-$f"; done
done
c=$(median <"$work/cold-container")
v=$(median <"$work/cold-vm")
s=$(median <"$work/cold-snapstart")
ss=$(median <"$work/cold-snapstart-sampled")
printf "cold invoke (median of %d): container %.0f ms, vm (boot + init) %.0f ms, snapstart %.0f ms, snapstart-sampled %.0f ms\n" \
  "$RUNS" "$(echo "$c * 1000" | bc)" "$(echo "$v * 1000" | bc)" "$(echo "$s * 1000" | bc)" \
  "$(echo "$ss * 1000" | bc)"
printf "snapstart / vm: %.1f%%, snapstart-sampled / vm: %.1f%% (goal: at most 10%%); snapstart / container: %.2fx\n" \
  "$(echo "100 * $s / $v" | bc -l)" "$(echo "100 * $ss / $v" | bc -l)" "$(echo "$s / $c" | bc -l)"
for f in $functions; do echo "   runs, $f: $(tr '\n' ' ' <"$work/cold-$f")"; done
# What each restore loaded of the snapshot's parts (REPORT's restore_loads):
# the first one on an empty cache without a profile, then the timed ones.
for f in snapstart snapstart-sampled; do
  echo "   $f (goal: memory chunks loaded at most 25% of those stored):"
  grep -h "\"function\": *\"$f\",.*\"start\": *\"restore\"" "$work/logs/reports.jsonl" | python3 -c '
import json, sys
for i, line in enumerate(sys.stdin):
    r = json.loads(line)
    parts = ", ".join("%s %d/%d (%.1f%%)" % (name, p["chunks_loaded"], p["chunks_stored"],
                                             100 * p["chunks_loaded"] / max(1, p["chunks_stored"]))
                      for name, p in r["restore_loads"].items())
    print("   restore %s: %.0f ms, loaded %s; fetched %.1f MB" % (
        "untimed" if i == 0 else i, r["restore_duration_ms"], parts,
        sum(p["fetched_bytes"] for p in r["restore_loads"].values()) / 1e6))'
done

echo "== warm invokes (round trip; REPORT duration; host overhead = round trip - duration)"
bench_start_agent --prefetch profile
bench_start_serve --init-timeout 300
for f in vm echo-vm echo-container; do
  invoke "$f" >/dev/null
  echo "$f: $(python3 bench/invoke_load.py --port "$serve_port" --function "$f" --count 1000 \
    --reports "$work/logs/reports.jsonl")"
done
