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
#   warm      1,000 sequential invocations of the microVM function on one
#             connection: round trip p50/p99
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
$lode function create container --image node --tenant bench --timeout 60 >/dev/null
$lode function create vm --vm --image node --tenant bench --timeout 60 >/dev/null
$lode function create snapstart --vm --snapstart --image node --tenant bench --timeout 60 >/dev/null

trap bench_cleanup EXIT

invoke() { # FUNCTION: seconds
  curl -s -o "$work/answer" -w '%{time_total}\n' -X POST -d '{"bench": true}' \
    "127.0.0.1:$serve_port/2015-03-31/functions/$1/invocations"
  grep -q '"bench":true' "$work/answer" || { echo "bad answer: $(cat "$work/answer")" >&2; exit 1; }
}

cold() { # FUNCTION: seconds of its first invocation on a fresh host
  bench_start_agent --prefetch profile
  bench_evict "$work/store"
  bench_start_serve --init-timeout 300
  invoke "$1"
  bench_stop_serve
}

echo "== publishing the SnapStart function"
bench_start_agent --prefetch profile
$lode function publish snapstart --tenant bench --socket "$work/sock" --json 2>>"$work/publish.log" |
  tee "$work/published.json"
echo "== cold invokes: recording the startup profiles (one untimed start each)"
for f in container vm snapstart; do
  cold "$f" >/dev/null
  sleep 3 # the agent writes the profile when the start goes quiet
done
for i in $(seq "$RUNS"); do
  for f in container vm snapstart; do cold "$f" >>"$work/cold-$f"; done
done
c=$(median <"$work/cold-container")
v=$(median <"$work/cold-vm")
s=$(median <"$work/cold-snapstart")
printf "cold invoke (median of %d): container %.0f ms, vm (boot + init) %.0f ms, snapstart %.0f ms\n" \
  "$RUNS" "$(echo "$c * 1000" | bc)" "$(echo "$v * 1000" | bc)" "$(echo "$s * 1000" | bc)"
printf "snapstart / vm: %.1f%% (goal: at most 10%%); snapstart / container: %.2fx\n" \
  "$(echo "100 * $s / $v" | bc -l)" "$(echo "$s / $c" | bc -l)"
for f in container vm snapstart; do echo "   runs, $f: $(tr '\n' ' ' <"$work/cold-$f")"; done
grep -h '"start": *"restore"' "$work/logs/reports.jsonl" | tail -n "$RUNS" |
  python3 -c 'import json,sys; r=[json.loads(l)["restore_duration_ms"] for l in sys.stdin]; print("   restore durations (REPORT, ms):", " ".join("%.0f" % x for x in r))'

echo "== warm invoke in a microVM"
bench_start_agent --prefetch profile
bench_start_serve --init-timeout 300
invoke vm >/dev/null
python3 bench/invoke_load.py --port "$serve_port" --function vm --count 1000
