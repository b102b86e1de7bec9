#!/usr/bin/env bash
# Functions (issue 22), in one run, on a Node.js function built as AWS's base
# images are (AWS's runtime interface client, aws-lambda-ric 3.3.0, on
# Debian's nodejs; a trivial handler), invoked through `lode serve`'s Invoke
# API on this machine:
#   cold      the first invocation on a host that never ran the function:
#             - local: its image flattened to a file on local disk (file:
#               image), mounted by the same host code; the file evicted from
#               the page cache before each run
#             - lode: the pushed image (dir:// store) attached lazily through
#               an agent restarted on an empty cache (empty L1 and memory
#               tier), store files evicted; the startup profile recorded by
#               one untimed start beforehand is prefetched, as on a worker
#             RUNS runs of each (default 5), alternating, medians; the time
#             is curl's, request sent to response received
#   warm      1,000 sequential invocations on one connection (round trip
#             p50/p99, and the host's overhead: round trip less the
#             runtime's REPORT duration), then 8 clients on 8 connections
#             (invocations/s), after 8 sandboxes are warm
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
source bench/common.sh
bench_build lode lode-testgen
node_rootfs="$cache/debian-bookworm-lambda-node.tar"
[ -f "$node_rootfs" ] || echo "== building the Node.js Lambda rootfs (mmdebstrap + npm, ~3 min)"
bash scripts/lambda-node-rootfs.sh "$node_rootfs"
bench_store function-bench
$testgen function-node --rootfs "$node_rootfs" -o "$work/oci" --compression gzip >/dev/null
$lode push "$work/oci" --tenant bench --tag node >/dev/null
$lode flatten "$work/oci" -o "$work/node.ext4" >/dev/null
$lode function create lazy --image node --tenant bench >/dev/null
$lode function create local --image "file:$work/node.ext4" --tenant bench >/dev/null

trap bench_cleanup EXIT

invoke() { # FUNCTION: seconds
  curl -s -o "$work/answer" -w '%{time_total}\n' -X POST -d '{"bench": true}' \
    "127.0.0.1:$serve_port/2015-03-31/functions/$1/invocations"
  grep -q '"bench":true' "$work/answer" || { echo "bad answer: $(cat "$work/answer")" >&2; exit 1; }
}

cold() { # FUNCTION: seconds of its first invocation on a fresh host
  bench_start_agent --prefetch profile
  bench_evict "$work/store" "$work/node.ext4"
  bench_start_serve
  invoke "$1"
  bench_stop_serve
}

echo "== cold invoke: recording the startup profile (one untimed start)"
cold lazy >/dev/null
sleep 3 # the agent writes the profile when the start goes quiet
for i in $(seq "$RUNS"); do
  cold local >>"$work/cold-local"
  cold lazy >>"$work/cold-lode"
done
l=$(median <"$work/cold-local")
z=$(median <"$work/cold-lode")
printf "cold invoke (median of %d): local file %.1f ms, lode %.1f ms, difference %+.1f ms (goal: at most +50 ms)\n" \
  "$RUNS" "$(echo "$l * 1000" | bc)" "$(echo "$z * 1000" | bc)" "$(echo "($z - $l) * 1000" | bc)"
echo "   runs, local: $(tr '\n' ' ' <"$work/cold-local")"
echo "   runs, lode:  $(tr '\n' ' ' <"$work/cold-lode")"

echo "== warm invoke"
bench_start_agent --prefetch profile
bench_start_serve --max-function-concurrency 8
python3 bench/invoke_load.py --port "$serve_port" --function lazy --count 8 --clients 8 >/dev/null
python3 bench/invoke_load.py --port "$serve_port" --function lazy --count 1000 --reports "$work/logs/reports.jsonl"
python3 bench/invoke_load.py --port "$serve_port" --function lazy --count 500 --clients 8
