#!/usr/bin/env bash
# microVM starts (issue 14), in one run, on the real Debian image (bookworm +
# python3). The command prints a line as soon as python3 runs, then imports
# a few modules and exits; seconds to that first output and to the exit,
# medians of RUNS runs (default 3):
#   vm, local file    lode run --vm file:IMAGE: the flattened image on local
#                     disk as the VM's disk (evicted from the page cache)
#   vm, lode          lode run --vm from the pushed image through an agent
#                     restarted on an empty cache (no prefetch)
#   vm, lode, RGW     the same from a one-node Ceph RGW behind
#                     bench/latency_proxy.py (+10 ms per request); RGW=0 skips
#   container, ...    lode run (crun) the same ways, beside them
# The accelerator is what --accel auto picks here (TCG where /dev/kvm is
# missing or PVM); it is printed with the table.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
source bench/common.sh
bench_build lode lode-testgen
bench_rootfs
bench_store vm-bench
bench_app_image
$lode flatten "$work/oci" -o "$work/image.ext4" >/dev/null

py=(python3 -c "print('up', flush=True); import json, email.mime.text, http.client, sqlite3, decimal, asyncio")

trap bench_cleanup EXIT

measure() { # RESULT-NAME lode-run-args...: first-output and exit seconds, fetched bytes
  local name=$1
  shift
  bench_evict "$work/image.ext4" "$work/store"
  local t
  t=$(python3 bench/first_output.py -- $lode run "$@" --timings-json "$work/t.json" -- "${py[@]}")
  echo "$t $(python3 -c "import json; print(json.load(open('$work/t.json'))['fetched_bytes'])")" \
    >>"$results/$name"
}
lazy() { # RESULT-NAME [--vm]: from the store through a fresh agent
  bench_start_agent --prefetch off
  measure "$1" app --tenant bench --socket "$work/sock" "${@:2}"
  bench_stop_agent
}

results="$work/results"
mkdir -p "$results"
accel=$($lode run --vm "file:$work/image.ext4" -- true 2>&1 >/dev/null | grep -o 'using TCG' || true)
accel=${accel:+TCG (no hardware virtualization here)}
accel=${accel:-KVM}
variants=(vm-file vm-lode container-file container-lode)
for ((i = 1; i <= RUNS; i++)); do
  measure vm-file --vm "file:$work/image.ext4"
  lazy vm-lode --vm
  measure container-file "file:$work/image.ext4"
  lazy container-lode
done

if [ "${RGW:-1}" = 1 ]; then
  bench_rgw_store 17690
  variants+=(vm-rgw container-rgw)
  for ((i = 1; i <= RUNS; i++)); do
    lazy vm-rgw --vm
    lazy container-rgw
  done
fi

col() { awk "{print \$$2}" "$results/$1" | median; }
label() {
  case $1 in
    vm-file) echo "microVM, disk = local ext4 file" ;;
    vm-lode) echo "microVM, lode image, local store, empty L1" ;;
    vm-rgw) echo "microVM, lode image, RGW +10 ms/request, empty L1" ;;
    container-file) echo "container (crun), local ext4 file" ;;
    container-lode) echo "container (crun), lode image, local store, empty L1" ;;
    container-rgw) echo "container (crun), lode image, RGW +10 ms/request, empty L1" ;;
  esac
}
echo "accelerator: $accel; medians of $RUNS runs"
echo
echo "| start | first output (s) | exit (s) | vs local file (exit) | fetched |"
echo "|---|---|---|---|---|"
for v in "${variants[@]}"; do
  base=${v%%-*}-file
  first=$(col "$v" 1)
  exit_s=$(col "$v" 2)
  printf "| %s | %.2f | %.2f | %+.0f ms | %s MiB |\n" "$(label "$v")" "$first" "$exit_s" \
    "$(echo "($exit_s - $(col "$base" 2)) * 1000" | bc -l)" \
    "$(echo "scale=1; $(col "$v" 3) / 1048576" | bc -l)"
done
