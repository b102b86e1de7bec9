#!/usr/bin/env bash
# containerd benchmark (issue 24): the Debian test image (bookworm with
# python3, 3 layers, gzip) served by a local distribution registry on
# 127.0.0.1, pulled and started cold by a private containerd 1.6 with
#  1. containerd's default overlayfs snapshotter
#  2. the stargz snapshotter (built from Debian's Go packages by
#     bench/stargz/build.sh) on the image converted to eStargz, without a
#     prefetch list (stargz) and optimized with one recorded by running the
#     entrypoint (stargz-opt)
#  3. lode's snapshotter (the image pushed to lode beforehand: the agent
#     reads it from a dir:// store on this machine)
# overlayfs and lode pull through containerd's unpacker (tools/containerd-pull:
# what the CRI plugin does; `ctr image pull` would download every layer
# first), stargz with its own `ctr-remote image rpull`; then `ctr run --rm`
# until the entrypoint's first output. Cold: fresh containerd
# root, fresh snapshotter root and agent cache, page cache dropped. Medians
# of RUNS runs (default 5); bytes from the registry (its access log) and
# from the store (the agent's origin tier).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
bench_build lode lode-testgen containerd_pull
bench_rootfs
runs=${RUNS:-5}
pull=$PWD/build/tools/containerd-pull
work="$cache/containerd-bench"
# Mounts a snapshotter left under DIR (stargz leaves its layers' FUSE mounts).
unmount_under() {
  awk -v root="$1" 'index($2, root) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
}
unmount_under "$work"
rm -rf "$work"
mkdir -p "$work"
bash bench/stargz/build.sh "$cache/stargz-build"
ctr_remote="$cache/stargz-build/ctr-remote"
ctd_pid="" snap_pid=""
stop_containerd() {
  if [ -n "$ctd_pid" ]; then kill "$ctd_pid" 2>/dev/null || true; wait "$ctd_pid" || true; ctd_pid=""; fi
}
stop_snapshotter() {
  if [ -n "$snap_pid" ]; then kill "$snap_pid" 2>/dev/null || true; wait "$snap_pid" || true; snap_pid=""; fi
}
cleanup() {
  stop_containerd
  stop_snapshotter
  unmount_under "$work"
  bench_stop_agent
  bash scripts/registry.sh down "$work/registry" >/dev/null 2>&1 || true
}
trap cleanup EXIT
bash scripts/registry.sh up "$work/registry" >/dev/null
# shellcheck disable=SC1091
. "$work/registry/env"
$testgen debian --rootfs "$rootfs" -o "$work/layout" --compression gzip >/dev/null
skopeo copy -q --dest-tls-verify=false oci:"$work/layout":latest docker://"$PLAIN"/lode/debian:v1
image="$PLAIN/lode/debian:v1"
export LODE_KEYS="$work/keys" LODE_STORE="dir://$work/store"
$lode key create bench >/dev/null
$lode push "$work/layout" --tenant bench >/dev/null

ctd="$work/containerd"
cat >"$work/config.toml" <<TOML
version = 2
root = "$ctd/root"
state = "$ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$ctd/containerd.sock"
[ttrpc]
  address = "$ctd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$ctd/opt"
[proxy_plugins.lode]
  type = "snapshot"
  address = "$work/snapshotter.sock"
[proxy_plugins.stargz]
  type = "snapshot"
  address = "$work/stargz.sock"
TOML

# A cold start for snapshotter $1: empty roots and caches, page cache dropped.
cold() {
  stop_containerd
  rm -rf "$ctd"
  mkdir -p "$ctd"
  stop_snapshotter
  unmount_under "$work/snapshotter-root"
  rm -rf "$work/snapshotter-root" "$work/snapshotter.sock" "$work/stargz.sock"
  if [ "$1" = lode ]; then
    bench_start_agent
    $lode snapshotter --root "$work/snapshotter-root" --socket "$work/snapshotter.sock" \
      --tenant bench --agent-socket "$work/sock" 2>>"$work/snapshotter.log" &
    snap_pid=$!
    until [ -S "$work/snapshotter.sock" ]; do sleep 0.05; done
  elif [ "$1" != overlayfs ]; then
    "$cache/stargz-build/stargz-daemon" "$work/snapshotter-root" "$work/stargz.sock" \
      2>>"$work/stargz.log" &
    snap_pid=$!
    until [ -S "$work/stargz.sock" ]; do sleep 0.05; done
  fi
  sync
  echo 3 >/proc/sys/vm/drop_caches
  containerd --config "$work/config.toml" >>"$work/containerd.log" 2>&1 &
  ctd_pid=$!
  until ctr --address "$ctd/containerd.sock" version >/dev/null 2>&1; do sleep 0.05; done
  : >"$work/registry/plain.log"
}

# Bytes of layer and config blobs the registry served (its access log).
registry_bytes() {
  awk '/"GET \/v2\/.*\/blobs\// && ($9 == 200 || $9 == 206) {s += $10} END {print s + 0}' \
    "$work/registry/plain.log"
}
store_bytes() {
  $lode stats --json --socket "$work/sock" |
    python3 -c 'import json,sys; print(next(t["bytes"] for t in json.load(sys.stdin)["tiers"] if t["tier"]=="origin"))'
}

# eStargz copies of the image, made once (with containerd's overlayfs).
cold overlayfs
remote() { "$ctr_remote" --address "$ctd/containerd.sock" --namespace bench "$@"; }
remote image pull --plain-http "$image" >/dev/null
remote image convert --estargz --oci "$image" "$PLAIN/lode/debian:esgz" >/dev/null
remote image push --plain-http "$PLAIN/lode/debian:esgz" >/dev/null
remote image optimize --oci --period 5 "$image" "$PLAIN/lode/debian:esgz-opt" >/dev/null
remote image push --plain-http "$PLAIN/lode/debian:esgz-opt" >/dev/null

printf '%-10s %3s %8s %8s %8s %12s %12s\n' snapshotter run pull_s first_s total_s registry_B store_B
for contestant in overlayfs stargz stargz-opt lode; do
  snapshotter=$contestant ref=$image
  case $contestant in
    stargz) ref="$PLAIN/lode/debian:esgz" ;;
    stargz-opt) snapshotter=stargz ref="$PLAIN/lode/debian:esgz-opt" ;;
  esac
  for i in $(seq "$runs"); do
    cold "$contestant"
    start=$(date +%s.%N)
    if [ "$snapshotter" = stargz ]; then
      remote image rpull --plain-http "$ref" >/dev/null
    else
      $pull "$ctd/containerd.sock" bench "$snapshotter" "$ref" >/dev/null
    fi
    pulled=$(date +%s.%N)
    read -r first _ < <(python3 bench/first_output.py -- ctr --address "$ctd/containerd.sock" \
      --namespace bench run --rm --snapshotter "$snapshotter" --runc-root "$ctd/runc" "$ref" "c$i")
    pull_s=$(echo "$pulled - $start" | bc -l)
    total=$(echo "$pull_s + $first" | bc -l)
    store=0
    [ "$snapshotter" = lode ] && store=$(store_bytes)
    printf '%-10s %3d %8.3f %8.3f %8.3f %12d %12d\n' "$contestant" "$i" "$pull_s" "$first" "$total" \
      "$(registry_bytes)" "$store" | tee -a "$work/results.txt"
  done
done
echo
echo "medians (pull + first output, seconds):"
for contestant in overlayfs stargz stargz-opt lode; do
  printf '  %-10s %s\n' "$contestant" "$(awk -v s="$contestant" '$1 == s {print $5}' "$work/results.txt" | median)"
done
