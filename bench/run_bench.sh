#!/usr/bin/env bash
# Worker benchmarks (issue 4), side by side in one run, on the real Debian
# image (bookworm + python3) pushed to a local dir:// store:
#  1. cold start of `python3 -c 'print(42)'`, RUNS runs each; before every
#     run of every variant the image's data (store, L1, layer blobs) is
#     evicted from the page cache, as on a worker where the binaries (lode,
#     crun, chroot) are hot but this image's data is not:
#       cold        lode run against a running agent with an empty L1 (the
#                   agent is restarted on a fresh cache before the run,
#                   untimed), crun; and the same with --runtime chroot
#       private     lode run starting (and stopping) its own agent, empty L1
#       warm        lode run against an agent restarted on the L1 a cold
#                   run filled (memory tier empty)
#       export      the full path without lazy loading: lode export of the
#                   whole image, loop mount, chroot, run
#       unpack      the other full path: umoci raw unpack of all layers,
#                   chroot, run
#  2. fio on the image's loop device (direct I/O), warm: 4 KiB random reads
#     (p50/p99 latency) and 1 MiB sequential reads, the block file through
#     the agent vs the flattened image file on local disk;
#  3. agent RSS with 4 images attached and read in full, beyond its memory
#     tier.
# Prints Markdown tables (medians).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
source bench/common.sh
bench_build lode lode-testgen
bench_rootfs
bench_store run-bench
for v in 1 2 3; do
  $testgen debian --rootfs "$rootfs" --version "$v" -o "$work/v$v" --compression gzip
  $lode push "$work/v$v" --tenant bench --tag "v$v" >/dev/null
done
$lode flatten "$work/v1" -o "$work/v1.ext4" >/dev/null

now() { date +%s.%N; }
drop_caches() { bench_evict "$work/store" "$work/cache" "$work/v1" "$work/exported.ext4"; }
py=(python3 -c 'print(42)')

agent_dir="$work/agent"
agent_pid=""
start_agent() {  # $1: cache dir; a running agent on $agent_dir/sock
  stop_agent
  $lode agent --socket "$agent_dir/sock" --mountpoint "$agent_dir/images" --cache "$1" \
    --memory-size "${2:-128MiB}" 2>>"$work/agent.log" &
  agent_pid=$!
  for _ in $(seq 200); do $lode ps --socket "$agent_dir/sock" >/dev/null 2>&1 && return; sleep 0.05; done
  echo "agent did not start" >&2
  exit 1
}
stop_agent() {
  if [ -n "$agent_pid" ]; then kill "$agent_pid"; wait "$agent_pid" || true; agent_pid=""; fi
}
trap stop_agent EXIT

run_lode() {  # $@: lode run options; prints seconds and fetched fraction
  local t0 t1
  t0=$(now)
  $lode run v1 --tenant bench "$@" --timings-json "$work/t.json" -- "${py[@]}" >/dev/null
  t1=$(now)
  python3 -c "import json,sys; t=json.load(open('$work/t.json')); print($t1 - $t0, t['fetched_bytes'] / t['image_bytes'])"
}
run_export() {
  local t0 t1
  t0=$(now)
  $lode export v1 --tenant bench -o "$work/exported.ext4" >/dev/null
  unshare -m sh -c "mkdir -p '$work/mnt' && mount -o ro,loop '$work/exported.ext4' '$work/mnt' && unshare -p -f chroot '$work/mnt' ${py[*]@Q} >/dev/null"
  t1=$(now)
  echo "$t1 - $t0" | bc
}
run_unpack() {
  local t0 t1
  rm -rf "$work/unpacked"
  t0=$(now)
  umoci raw unpack --image "$work/v1:latest" "$work/unpacked" 2>/dev/null
  unshare -m -p -f chroot "$work/unpacked" "${py[@]}" >/dev/null
  t1=$(now)
  echo "$t1 - $t0" | bc
}

declare -A times
fetched=()
socket=(--socket "$agent_dir/sock")
for i in $(seq "$RUNS"); do
  rm -rf "$work/cache"
  start_agent "$work/cache"
  drop_caches
  read -r t f < <(run_lode "${socket[@]}")
  times[cold]+="$t "
  fetched+=("$f")
  start_agent "$work/cache"
  drop_caches
  read -r t f < <(run_lode "${socket[@]}")
  times[warm]+="$t "
  rm -rf "$work/cache"
  start_agent "$work/cache"
  drop_caches
  read -r t f < <(run_lode "${socket[@]}" --runtime chroot)
  times[chroot]+="$t "
  stop_agent
  rm -rf "$work/cache"
  drop_caches
  read -r t f < <(run_lode --cache "$work/cache")
  times[private]+="$t "
  drop_caches
  times[export]+="$(run_export) "
  drop_caches
  times[unpack]+="$(run_unpack) "
done
med() { tr ' ' '\n' <<<"${times[$1]}" | grep . | median; }
declare -A label=(
  [cold]="lode run, running agent, empty L1 (crun)"
  [chroot]="lode run, running agent, empty L1 (chroot)"
  [private]="lode run, private agent, empty L1 (crun)"
  [warm]="lode run, running agent, warm L1 (crun)"
  [export]="export whole image + mount + chroot"
  [unpack]="unpack all layers + chroot")
echo "| python3 -c 'print(42)' | median s | export path / this |"
echo "|---|---|---|"
export_median=$(med export)
for k in cold chroot private warm export unpack; do
  m=$(med "$k")
  printf '| %s | %.3f | %.1fx |\n' "${label[$k]}" "$m" "$(echo "$export_median / $m" | bc -l)"
done
printf 'bytes fetched by a cold run: %.2f%% of the image (median)\n' \
  "$(printf '%s\n' "${fetched[@]}" | median | awk '{print $1 * 100}')"

# 2. fio, warm, through loop devices with direct I/O.
echo
start_agent "$agent_dir/cache" 512MiB
block=$($lode attach v1 --tenant bench --socket "$agent_dir/sock")
fio_run() {  # $1 device, $2 rw, $3 bs -> json
  fio --name=b --filename="$1" --direct=1 --rw="$2" --bs="$3" --ioengine=psync --iodepth=1 \
    --runtime=10 --time_based --output-format=json 2>/dev/null
}
echo "| fio (warm, loop device, direct I/O) | lode block file | raw image file | lode / raw |"
echo "|---|---|---|---|"
lode_dev=$(losetup --direct-io=on -r -f --show "$block")
raw_dev=$(losetup --direct-io=on -r -f --show "$work/v1.ext4")
cat "$lode_dev" >/dev/null; cat "$raw_dev" >/dev/null
for round in 1 2 3; do  # alternating, medians below: this VM's neighbours are noisy
  for dev in lode raw; do
    d=$lode_dev; [ $dev = raw ] && d=$raw_dev
    fio_run "$d" randread 4k >"$work/fio-$dev-rand-$round.json"
    fio_run "$d" read 1m >"$work/fio-$dev-seq-$round.json"
  done
done
losetup -d "$lode_dev" "$raw_dev"
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
import statistics
def med(name, value):
    return statistics.median(value(json.load(open(f"{w}/fio-{name}-{r}.json"))["jobs"][0]["read"]) for r in (1, 2, 3))
def pct(p):
    return lambda r: r["clat_ns"]["percentile"][p] / 1000
for label, p in (("4 KiB random read p50 (us)", "50.000000"), ("4 KiB random read p99 (us)", "99.000000")):
    lode, raw = med("lode-rand", pct(p)), med("raw-rand", pct(p))
    print(f"| {label} | {lode:.0f} | {raw:.0f} | {lode / raw:.2f} |")
bw = lambda r: r["bw_bytes"] / 1e6
lode, raw = med("lode-seq", bw), med("raw-seq", bw)
print(f"| 1 MiB sequential read (MB/s) | {lode:.0f} | {raw:.0f} | {lode / raw:.2f} |")
PY
$lode detach "$(basename "$block")" --socket "$agent_dir/sock"

# 3. Agent RSS with 4 images attached and read in full.
echo
for tag in v1 v2 v3 v1; do
  b=$($lode attach "$tag" --tenant bench --socket "$agent_dir/sock")
  cat "$b" >/dev/null
done
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$agent_pid/status")
memory_tier=$($lode stats --json --socket "$agent_dir/sock" | python3 -c "import json,sys; print(json.load(sys.stdin)['tiers'][0]['bytes_cached'])")
echo "agent RSS with 4 images attached and read: $((rss_kb / 1024)) MiB, of which memory tier (decrypted chunks, budget 512 MiB): $((memory_tier / 1048576)) MiB -> beyond the cache: $(((rss_kb * 1024 - memory_tier) / 1048576)) MiB"
