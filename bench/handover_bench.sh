#!/usr/bin/env bash
# Agent handover under load (issue 13). A 32 MiB file that fio wrote with
# crc32c headers, in an image pushed to a dir:// store, attached and
# loop-mounted (direct I/O, as lode run does); fio reads it at random with
# verification (4 jobs, 4 KiB, O_DIRECT) while the agent is
#   crash: SIGKILLed and restarted, RESTARTS times (default 20)
#   upgrade: replaced with `lode agent --upgrade`, RESTARTS times
# Per handover the stall is the longest latency of a read that completed
# from the kill (or the upgrade's start) to one second after the new agent
# answered, from fio's per-I/O latency log. Prints p50/p99 of the stalls,
# the upgrade's duration, fio's error count, and agent RSS before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
RESTARTS=${RESTARTS:-20}
source bench/common.sh
bench_build lode lode-testgen
bench_store handover-bench
w=$work
fio --name=w --filename="$w/fio.data" --rw=write --bs=4k --size=32M --verify=crc32c \
  --do_verify=0 --verify_state_save=0 >/dev/null
mkdir -p "$w/tree/data"
mv "$w/fio.data" "$w/tree/data/fio"
tar -C "$w/tree" -cf "$w/tree.tar" data
# The rootfs is just the file; testgen adds its two small application layers.
$testgen debian --rootfs "$w/tree.tar" -o "$w/oci" >/dev/null
$lode push "$w/oci" --tenant bench --tag fio >/dev/null

agent_args=(--socket "$w/sock" --mountpoint "$w/images" --cache "$w/cache" --prefetch off)
start_agent() { # [FLAGS]: starts an agent, waits until one answers
  $lode agent "${agent_args[@]}" "$@" 2>>"$w/agent.log" &
  agent_pid=$!
  for _ in $(seq 500); do
    $lode ps --socket "$w/sock" >/dev/null 2>&1 && return
    sleep 0.01
  done
  echo "agent did not start" >&2
  exit 1
}
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
now_ms() { date +%s%3N; }
loopdev=""
cleanup() {
  if mountpoint -q "$w/mnt"; then umount "$w/mnt"; fi
  if [ -n "$loopdev" ]; then losetup -d "$loopdev" 2>/dev/null || true; fi
  kill "$agent_pid" 2>/dev/null || true
  wait "$agent_pid" 2>/dev/null || true
}
trap cleanup EXIT

start_agent
block=$($lode attach fio --tenant bench --socket "$w/sock")
loopdev=$(losetup --find --show --direct-io=on --read-only "$block")
mkdir -p "$w/mnt"
mount -t ext4 -o ro "$loopdev" "$w/mnt"

run_fio() { # NAME SECONDS: fio in the background, latency log in $w/NAME
  fio --name="$1" --filename="$w/mnt/data/fio" --rw=randread --bs=4k --size=32M --numjobs=4 \
    --verify=crc32c --verify_only=1 --verify_state_save=0 --direct=1 --ioengine=psync \
    --time_based --runtime="$2" --write_lat_log="$w/$1" --log_unix_epoch=1 \
    --output-format=json >"$w/$1.json" 2>&1 &
  fio_pid=$!
  sleep 1
}

run_fio warm 3
wait "$fio_pid"
rss_before=$(rss "$agent_pid")
seconds=$((RESTARTS * 1 + 4))
run_fio crash "$seconds"
: >"$w/crash.windows"
for ((i = 0; i < RESTARTS; i++)); do
  sleep 0.3
  t0=$(now_ms)
  kill -9 "$agent_pid"
  wait "$agent_pid" 2>/dev/null || true
  start_agent
  echo "$t0 $(now_ms)" >>"$w/crash.windows"
done
wait "$fio_pid"
rss_after=$(rss "$agent_pid")

run_fio upgrade "$seconds"
: >"$w/upgrade.windows"
for ((i = 0; i < RESTARTS; i++)); do
  sleep 0.3
  old=$agent_pid
  t0=$(now_ms)
  start_agent --upgrade
  wait "$old" 2>/dev/null || true
  echo "$t0 $(now_ms)" >>"$w/upgrade.windows"
done
wait "$fio_pid"
holder_rss=$(pgrep -f "fuse-holder --socket $w/sock.holder" | head -1 | xargs -I{} awk '/VmRSS/ {print $2}' /proc/{}/status)

python3 - "$w" "$rss_before" "$rss_after" "$holder_rss" <<'PY'
import glob, json, sys
w, rss_before, rss_after, holder_rss = sys.argv[1:]
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
print("| handover | stalls p50 | stalls p99 | handover p50 (kill or upgrade to answering) | reads | errors |")
print("|---|---|---|---|---|---|")
for kind in ("crash", "upgrade"):
    lat = []  # (completion ms, latency ms)
    for f in glob.glob(f"{w}/{kind}_lat.*.log"):
        for line in open(f):
            t, ns = line.split(",")[:2]
            lat.append((int(t), int(ns) / 1e6))
    windows = [tuple(map(int, l.split())) for l in open(f"{w}/{kind}.windows")]
    stalls = [max([l for t, l in lat if a <= t <= b + 1000] or [0]) for a, b in windows]
    report = json.load(open(f"{w}/{kind}.json"))
    errors = sum(j["error"] for j in report["jobs"])
    reads = sum(j["read"]["total_ios"] for j in report["jobs"])
    took = [b - a for a, b in windows]
    print(f"| {kind} x{len(windows)} | {pct(stalls, 50):.0f} ms | {pct(stalls, 99):.0f} ms | "
          f"{pct(took, 50):.0f} ms | {reads} | {errors} |")
print()
print(f"agent RSS: {int(rss_before) // 1024} MiB before, {int(rss_after) // 1024} MiB after "
      f"{len(windows)} crash handovers; holder RSS {int(holder_rss) // 1024} MiB")
PY
