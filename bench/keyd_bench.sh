#!/usr/bin/env bash
# keyd's cost (issue 23), on the real Debian image (bookworm + python3)
# pushed to a local dir:// store:
#  1. attach latency: `lode attach` + the agent opening the manifest (and
#     profile), the agent holding the key directory vs asking keyd over its
#     Unix socket (grant checked, data key returned); RUNS attaches per
#     round, three rounds of each, alternating; medians of all;
#  2. opens (unseals) per second: keyd pinned to CPU 0, clients
#     (bench/keyd_bench.cc) on CPU 1 with 1, 2 and 4 threads; beside it the
#     crypto alone (the local key directory, one thread).
# Prints Markdown tables.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
SECONDS_PER_POINT=${SECONDS_PER_POINT:-5}
source bench/common.sh
bench_build lode lode-testgen keyd_bench
bench_rootfs
bench_store keyd-bench
bench_app_image
ref=$($lode inspect app --tenant bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["ref"])')
manifest_bytes=$(stat -c %s "$work/store/${ref%%/*}/manifests/${ref#*/}")

keyd_pid=""
agents=()
cleanup() {
  for p in "${agents[@]}" $keyd_pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
cat >"$work/policy.json" <<JSON
{"principals": [{"name": "bench-worker", "uid": 0, "roles": ["admin", "pusher", "worker"]}]}
JSON
taskset -c 0 $lode keyd --dir "$LODE_KEYS" --socket "$work/keyd.sock" --policy "$work/policy.json" \
  2>>"$work/keyd.log" &
keyd_pid=$!
for _ in $(seq 100); do [ -S "$work/keyd.sock" ] && break; sleep 0.05; done
$lode grant app --tenant bench --worker bench-worker --keyd "$work/keyd.sock" >/dev/null

start_agent() {  # NAME FLAGS...
  local name=$1
  shift
  $lode agent --socket "$work/agent-$name.sock" --mountpoint "$work/$name-images" \
    --cache "$work/$name-cache" "$@" 2>>"$work/$name.log" &
  agents+=($!)
  for _ in $(seq 200); do $lode ps --socket "$work/agent-$name.sock" >/dev/null 2>&1 && return; sleep 0.05; done
  echo "agent $name did not start" >&2
  exit 1
}
start_agent local
start_agent keyd --keyd "$work/keyd.sock" --require-keyd

python3 - "$lode" "$work" "$RUNS" >"$work/attach.json" <<'PY'
import json, subprocess, sys, time
lode, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = {"local": [], "keyd": []}
for round in range(3):
    for mode in ("local", "keyd"):
        sock = f"{work}/agent-{mode}.sock"
        for _ in range(runs):
            t = time.perf_counter()
            out = subprocess.run([lode, "attach", "app", "--tenant", "bench", "--socket", sock,
                                  "--json"], check=True, capture_output=True, text=True).stdout
            times[mode].append((time.perf_counter() - t) * 1000)
            subprocess.run([lode, "detach", json.loads(out)["id"], "--socket", sock], check=True)
json.dump(times, sys.stdout)
PY

opens() {  # KEY-ARGS... -> JSON
  taskset -c 1 build/bench/keyd_bench --store "$LODE_STORE" --tenant bench --ref "$ref" \
    --seconds "$SECONDS_PER_POINT" "$@"
}
local_1=$(opens --keys "$LODE_KEYS" --threads 1)
keyd_1=$(opens --keyd "$work/keyd.sock" --threads 1)
keyd_2=$(opens --keyd "$work/keyd.sock" --threads 2)
keyd_4=$(opens --keyd "$work/keyd.sock" --threads 4)

python3 - "$work/attach.json" "$manifest_bytes" "$local_1" "$keyd_1" "$keyd_2" "$keyd_4" <<'PY'
import json, statistics, sys
times = json.load(open(sys.argv[1]))
manifest_bytes = int(sys.argv[2])
points = [json.loads(a) for a in sys.argv[3:]]
l, k = statistics.median(times["local"]), statistics.median(times["keyd"])
print(f"Attach of the Debian image (manifest {manifest_bytes} bytes), {len(times['local'])} attaches each, medians:\n")
print("| keys | attach (ms) | p90 (ms) |")
print("|---|---|---|")
for mode, med in (("local key directory", l), ("keyd (grant checked)", k)):
    data = sorted(times["local" if mode.startswith("local") else "keyd"])
    print(f"| {mode} | {med:.2f} | {data[int(0.9 * (len(data) - 1))]:.2f} |")
print(f"\nkeyd adds {k - l:+.2f} ms per attach (goal: under 2 ms).\n")
print("Opens (unseals) per second, keyd on one core (CPU 0), clients on CPU 1:\n")
print("| keys | client threads | opens/s | p50 (us) | p99 (us) |")
print("|---|---|---|---|---|")
names = ["local key directory (crypto only)", "keyd", "keyd", "keyd"]
for name, p in zip(names, points):
    print(f"| {name} | {p['threads']} | {p['per_second']:.0f} | {p['p50_us']:.0f} | {p['p99_us']:.0f} |")
best = max(p["per_second"] for p in points[1:])
print(f"\nkeyd peaks at {best:.0f} opens/s on one core (goal: at least 5,000/s).")
PY
