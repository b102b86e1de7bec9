#!/usr/bin/env bash
# SnapStart (issue 15), in one run, on the real Debian image (bookworm +
# python3), same accelerator for every row (what --accel auto picks here).
# The service imports a dozen modules and builds a 200k-entry dict, prints
# "ready", then answers one line of stdin. Seconds to its first answer and
# to its exit, medians of RUNS runs (default 3):
#   boot + init      lode run --vm file:IMAGE: a cold boot on the flattened
#                    image on local disk (the strongest baseline), then the
#                    service's initialization, then the answer
#   restore, ...     lode run --vm --snapshot of a snapshot taken when the
#                    service printed "ready": through an agent on an empty
#                    cache without prefetch, with prefetch of the recorded
#                    working set, and on a warm agent (its L1 and memory
#                    tier hold what the previous restore read)
#   ..., RGW         the cold restores again from a one-node Ceph RGW behind
#                    bench/latency_proxy.py (+10 ms per request), where the
#                    prefetch has latency to hide; RGW=0 skips
# Also: chunks and bytes a restore fetched against the snapshot's size, and
# what a second snapshot of the same program added to the store (dedup).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
source bench/common.sh
bench_build lode lode-testgen
bench_rootfs
bench_store snapstart-bench
bench_app_image
$lode flatten "$work/oci" -o "$work/image.ext4" >/dev/null
trap bench_cleanup EXIT

service='import asyncio, decimal, email.parser, hashlib, http.server, json, os, sqlite3, sys
import xml.etree.ElementTree, urllib.request, logging, argparse, csv, zipfile
state = {i: i * i for i in range(200000)}
digest = hashlib.sha256(repr(sorted(state.items())).encode()).hexdigest()[:16]
print("ready", digest, flush=True)
for line in sys.stdin:
    print("answer", line.strip(), digest, os.urandom(8).hex(), flush=True)'

results="$work/results"
mkdir -p "$results"
create() { # NAME: a snapshot of the service, tagged NAME; its --json line
  $lode snapshot create app --tenant bench --tag "$1" --ready-marker ready --json \
    --cache "$work/create-cache" -- python3 -c "$service" 2>>"$work/create.log"
}
create snap-1 >"$results/create-1.json"
create snap-2 >"$results/create-2.json"

measure() { # RESULT-NAME lode-run-args...: answer and exit seconds, fetched chunks and bytes
  local name=$1
  shift
  bench_evict "$work/image.ext4" "$work/store"
  local t
  t=$(python3 bench/first_answer.py -- $lode run --timings-json "$work/t.json" "$@")
  echo "$t $(python3 -c "import json; t = json.load(open('$work/t.json')); \
print(t['chunks_fetched'], t['fetched_bytes'], t['prefetched'])")" >>"$results/$name"
}
restore() { # RESULT-NAME: a restore of snap-1 through the running agent
  measure "$1" --vm --snapshot snap-1 --tenant bench --socket "$work/sock"
}

for ((i = 1; i <= RUNS; i++)); do
  measure boot --vm "file:$work/image.ext4" -- python3 -c "$service"
  bench_start_agent --prefetch off
  restore restore-cold
  restore restore-warm
  bench_start_agent # prefetch of the profile the restores recorded
  restore restore-prefetch
done
bench_stop_agent
variants=(boot restore-cold restore-prefetch restore-warm)
if [ "${RGW:-1}" = 1 ]; then
  bench_rgw_store 17691
  create snap-1 >"$results/create-rgw.json"
  variants+=(restore-cold-rgw restore-prefetch-rgw)
  for ((i = 1; i <= RUNS; i++)); do
    bench_start_agent --prefetch off
    restore restore-cold-rgw
    bench_start_agent
    restore restore-prefetch-rgw
  done
  bench_stop_agent
fi
accel=$($lode run --vm "file:$work/image.ext4" -- true 2>&1 >/dev/null | grep -o 'using TCG' || true)
accel=${accel:+TCG (no hardware virtualization here)}
accel=${accel:-KVM}

col() { awk "{print \$$2}" "$results/$1" | median; }
label() {
  case $1 in
    boot) echo "boot + init (local ext4 file)" ;;
    restore-cold) echo "restore, empty L1, no prefetch" ;;
    restore-prefetch) echo "restore, empty L1, prefetch of the working set" ;;
    restore-warm) echo "restore, warm agent (L1 + memory)" ;;
    restore-cold-rgw) echo "restore from RGW +10 ms/request, empty L1, no prefetch" ;;
    restore-prefetch-rgw) echo "restore from RGW +10 ms/request, empty L1, prefetch" ;;
  esac
}
snap() { python3 -c "import json; print(json.load(open('$results/create-$1.json'))['$2'])"; }
echo "accelerator: $accel; medians of $RUNS runs"
echo
echo "| start | first answer (s) | exit (s) | first answer vs boot + init | chunks fetched on demand | MiB fetched on demand | chunks prefetched |"
echo "|---|---|---|---|---|---|---|"
for v in "${variants[@]}"; do
  printf "| %s | %.2f | %.2f | %.1fx sooner | %s | %.1f | %s |\n" "$(label "$v")" "$(col "$v" 1)" \
    "$(col "$v" 2)" "$(echo "$(col boot 1) / $(col "$v" 1)" | bc -l)" "$(col "$v" 3)" \
    "$(echo "$(col "$v" 4) / 1048576" | bc -l)" "$(col "$v" 5)"
done
total=$(snap 1 chunks_total)
holes=$(snap 1 chunks_holes)
echo
echo "snapshot: $total chunks of 512 KiB ($(snap 1 snapshot_bytes) bytes: memory, device state" \
  "and the image's disk), $holes holes, $((total - holes)) stored; device state $(snap 1 state_bytes) bytes"
echo "service ready after $(snap 1 ready_seconds) s of boot + init; saved in $(snap 1 save_seconds) s"
for n in 1 2; do
  echo "snapshot $n pushed: $(snap $n chunks_new) new chunks, $(snap $n chunks_existing) already" \
    "stored, $(echo "scale=1; $(snap $n bytes_uploaded) / 1048576" | bc -l) MiB uploaded"
done
