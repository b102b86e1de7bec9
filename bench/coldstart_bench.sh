#!/usr/bin/env bash
# Cold start against native (issue 12), in one run, on the real Debian image
# (bookworm + python3) pushed to a local dir:// store. `python3 -c
# 'print(42)'`, RUNS runs of each (default 5), medians:
#   native      chroot into a fully unpacked copy of the image (umoci raw
#               unpack, done once), its files evicted from the page cache
#   lode        lode run --runtime chroot against a running agent restarted
#               on an empty cache (empty L1 and memory tier), prefetch off
#   profile     the same with the image's startup profile prefetched
#               (recorded by one untimed start beforehand)
#   rgw, rgw+profile  the same two from a one-node Ceph RGW (s3://,
#               scripts/rgw.sh) behind bench/latency_proxy.py, which adds
#               10 ms to every request (a real object store's first byte;
#               this kernel has no netem); no L2. RGW=0 leaves these out.
#   l2, l2+profile  the same with a warm L2 (5 local memcached servers,
#               4+1, filled by an untimed start before each timed one)
# Before every timed run the image's data (store, L1, unpacked copy) is
# evicted from the page cache; binaries (lode, python3's own libraries in
# the unpacked copy excepted) stay hot, as on a worker.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
source bench/common.sh
bench_build lode lode-testgen
bench_rootfs
bench_store coldstart-bench
bench_app_image
umoci raw unpack --image "$work/oci:latest" "$work/unpacked" 2>/dev/null

now() { date +%s.%N; }
py=(python3 -c 'print(42)')

start_agent() { bench_start_agent --prefetch "$@"; } # PREFETCH [AGENT FLAGS]
memcached_pids=()
cleanup() {
  bench_cleanup
  if [ ${#memcached_pids[@]} -gt 0 ]; then kill "${memcached_pids[@]}" 2>/dev/null || true; fi
}
trap cleanup EXIT

run_native() {
  local t0 t1
  bench_evict "$work/unpacked"
  t0=$(now)
  unshare -m -p -f chroot "$work/unpacked" "${py[@]}" >/dev/null
  t1=$(now)
  echo "$t1 - $t0" | bc
}
run_lode() { # PREFETCH [AGENT FLAGS]: seconds, demand waits, prefetched chunks
  local t0 t1
  start_agent "$@"
  bench_evict "$work/store" "$work/cache"
  t0=$(now)
  $lode run app --tenant bench --socket "$work/sock" --runtime chroot \
    --timings-json "$work/t.json" -- "${py[@]}" >/dev/null
  t1=$(now)
  python3 -c "import json; t=json.load(open('$work/t.json')); print($t1 - $t0, t['demand_waits'], t['prefetched'])"
}

record_profile() { # one untimed start; the agent saves the profile on detach
  start_agent profile
  $lode run app --tenant bench --socket "$work/sock" --runtime chroot -- "${py[@]}" >/dev/null
  bench_stop_agent
}
record_profile
profile_chunks=$($lode inspect app --tenant bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["profile_chunks"])')

variants=(native lode profile)
results="$work/results"
mkdir -p "$results"
for ((i = 1; i <= RUNS; i++)); do
  run_native >>"$results/native"
  run_lode off >>"$results/lode"
  run_lode profile >>"$results/profile"
done
bench_stop_agent

if [ "${RGW:-1}" = 1 ]; then
  bench_rgw_store 17680
  record_profile
  l2=memcached://
  for port in 17720 17721 17722 17723 17724; do
    memcached -l 127.0.0.1 -p "$port" -U 0 -m 256 -u root &
    memcached_pids+=($!)
    l2+="127.0.0.1:$port,"
  done
  l2=${l2%,}
  fill_l2() { # one untimed start that leaves the image's chunks in L2
    start_agent off --l2 "$l2"
    $lode run app --tenant bench --socket "$work/sock" --runtime chroot -- "${py[@]}" >/dev/null
  }
  variants+=(rgw rgw-profile l2 l2-profile)
  for ((i = 1; i <= RUNS; i++)); do
    run_lode off >>"$results/rgw"
    run_lode profile >>"$results/rgw-profile"
    fill_l2
    run_lode off --l2 "$l2" >>"$results/l2"
    fill_l2
    run_lode profile --l2 "$l2" >>"$results/l2-profile"
  done
  bench_stop_agent
fi

native=$(median <"$results/native")
col() { awk "{print \$$2}" "$results/$1" | median; }
label() {
  case $1 in
    lode) echo "lode run, local store, no prefetch" ;;
    profile) echo "lode run, local store, profile prefetched" ;;
    rgw) echo "lode run, RGW +10 ms/request, empty L1 and memory, no prefetch" ;;
    rgw-profile) echo "lode run, RGW +10 ms/request, empty L1 and memory, profile prefetched" ;;
    l2) echo "lode run, RGW +10 ms/request, empty L1 and memory, warm L2, no prefetch" ;;
    l2-profile) echo "lode run, RGW +10 ms/request, empty L1 and memory, warm L2, profile prefetched" ;;
  esac
}
echo "profile: $profile_chunks chunks; medians of $RUNS runs"
echo
echo "| start | seconds | vs native | demand reads that waited | prefetched |"
echo "|---|---|---|---|---|"
printf "| native: chroot into the unpacked image, cold | %.3f | +0 ms | - | - |\n" "$native"
for v in "${variants[@]:1}"; do
  s=$(col "$v" 1)
  printf "| %s, cold | %.3f | %+.0f ms | %s | %s |\n" "$(label "$v")" "$s" \
    "$(echo "($s - $native) * 1000" | bc -l)" "$(col "$v" 2)" "$(col "$v" 3)"
done
