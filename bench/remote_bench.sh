#!/usr/bin/env bash
# Cold start from remote tiers (issue 5): the real Debian image pushed to a
# one-node Ceph RGW (s3://, scripts/rgw.sh) with a 5-server memcached L2
# (4+1), all on 127.0.0.1. `lode run python3 -c 'print(42)'` against an agent
# restarted before every run (untimed) with:
#   empty L1, empty L2   everything from RGW
#   empty L1, warm L2    a new worker in a zone whose L2 has the image
#   warm L1              the same worker again
# RUNS runs each; medians of wall time and the chunks each tier served.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
source bench/common.sh
bench_build lode lode-testgen
bench_rootfs
work="$cache/remote-bench"
rm -rf "$work"
mkdir -p "$work"
eval "$(bash scripts/rgw.sh start "$work/rgw" 17580 | sed 's/^/export /')"
memcached_pids=()
l2="memcached://"
for i in 0 1 2 3 4; do
  port=$((17600 + i))
  memcached -l 127.0.0.1 -p "$port" -U 0 -m 256 -u root &
  memcached_pids+=($!)
  l2+="127.0.0.1:$port,"
done
l2=${l2%,}
agent_pid=""
stop_agent() { if [ -n "$agent_pid" ]; then kill "$agent_pid"; wait "$agent_pid" || true; agent_pid=""; fi; }
cleanup() {
  stop_agent
  kill "${memcached_pids[@]}" 2>/dev/null || true
  bash scripts/rgw.sh stop "$work/rgw"
}
trap cleanup EXIT
export LODE_KEYS="$work/keys" LODE_STORE="$LODE_S3_URL"
$lode key create bench >/dev/null
$testgen debian --rootfs "$rootfs" -o "$work/oci" --compression gzip
$lode push "$work/oci" --tenant bench --tag deb >/dev/null

start_agent() {  # $1: cache dir
  stop_agent
  $lode agent --socket "$work/sock" --mountpoint "$work/images" --cache "$1" --l2 "$l2" \
    2>>"$work/agent.log" &
  agent_pid=$!
  for _ in $(seq 200); do $lode ps --socket "$work/sock" >/dev/null 2>&1 && return; sleep 0.05; done
  exit 1
}
flush_l2() { for i in 0 1 2 3 4; do printf 'flush_all\r\nquit\r\n' | timeout 2 bash -c "cat > /dev/tcp/127.0.0.1/$((17600 + i))" || true; done; }
run() {  # prints: seconds l1 l2 origin fetched_bytes
  local t0 t1
  t0=$(date +%s.%N)
  $lode run deb --tenant bench --socket "$work/sock" --timings-json "$work/t.json" -- python3 -c 'print(42)' >/dev/null
  t1=$(date +%s.%N)
  python3 -c "import json; t=json.load(open('$work/t.json')); print($t1 - $t0, t['l1_hits'], t['l2_hits'], t['origin_fetches'], t['fetched_bytes'])"
}
declare -A rows
for i in $(seq "$RUNS"); do
  flush_l2
  sleep 0.2
  rm -rf "$work/cache"; start_agent "$work/cache"
  rows[cold]+="$(run)"$'\n'
  stop_agent  # drains the L2 fills
  rm -rf "$work/cache"; start_agent "$work/cache"
  rows[l2]+="$(run)"$'\n'
  start_agent "$work/cache"
  rows[l1]+="$(run)"$'\n'
done
echo "| lode run python3 (RGW origin, L2 4+1) | median s | chunks from L1 | from L2 | from RGW | bytes fetched remotely |"
echo "|---|---|---|---|---|---|"
for k in cold l2 l1; do
  label="empty L1, empty L2"; [ $k = l2 ] && label="empty L1, warm L2"; [ $k = l1 ] && label="warm L1"
  printf '%s' "${rows[$k]}" | python3 -c "
import sys, statistics
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = [statistics.median(col) for col in zip(*rows)]
print(f'| $label | {med[0]:.3f} | {med[1]:.0f} | {med[2]:.0f} | {med[3]:.0f} | {med[4]:.0f} |')"
done
