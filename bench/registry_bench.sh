#!/usr/bin/env bash
# Registry pull benchmark (issue 11). The real Debian test image (bookworm
# with python3, 3 layers, gzip) is served by a local distribution registry
# (scripts/registry.sh, plain HTTP on 127.0.0.1) and pulled, in the same run:
#  1. skopeo copy docker://... oci:DIR            (the peer: download only)
#  2. lode push docker://...                      (download + flatten + seal + store)
#  3. skopeo copy docker://... oci:DIR, then lode push oci:DIR
#  4. lode push docker://... again, unchanged     (nothing downloaded)
# once from the registry on 127.0.0.1, and once from the same registry
# reached over a link shaped to LINK_MBIT (default 1000) Mbit/s: a network
# namespace joined by a veth pair whose both ends are rate-limited with tc,
# as a registry across a fast data-centre network is.
# Each run starts from an empty store and an empty target directory; the
# registry's files are in the page cache for every contestant alike. Medians
# of RUNS runs (default 5); peak RSS of lode push from /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
bench_build lode lode-testgen
bench_rootfs
runs=${RUNS:-5}
work="$cache/registry-bench"
rm -rf "$work"
mkdir -p "$work"
link_mbit=${LINK_MBIT:-1000}
netns=lode-bench-registry
cleanup() {
  bash scripts/registry.sh down "$work/registry" >/dev/null 2>&1 || true
  [ -f "$work/remote.pid" ] && kill "$(cat "$work/remote.pid")" 2>/dev/null
  ip netns del "$netns" 2>/dev/null || true
  ip link del lode-bench-h 2>/dev/null || true
}
trap cleanup EXIT
cleanup
bash scripts/registry.sh up "$work/registry"
# shellcheck disable=SC1091
. "$work/registry/env"

# The same registry storage served from a namespace behind a shaped link.
ip netns add "$netns"
ip link add lode-bench-h type veth peer name lode-bench-r
ip link set lode-bench-r netns "$netns"
ip addr add 10.213.0.1/24 dev lode-bench-h
ip -n "$netns" addr add 10.213.0.2/24 dev lode-bench-r
ip link set lode-bench-h up
ip -n "$netns" link set lode-bench-r up
ip -n "$netns" link set lo up
tc qdisc add dev lode-bench-h root tbf rate "${link_mbit}mbit" burst 256kb latency 50ms
tc -n "$netns" qdisc add dev lode-bench-r root tbf rate "${link_mbit}mbit" burst 256kb latency 50ms
sed 's/addr: 127.0.0.1:[0-9]*/addr: 10.213.0.2:5000/' "$work/registry/plain.yml" >"$work/remote.yml"
ip netns exec "$netns" docker-registry serve "$work/remote.yml" >"$work/remote.log" 2>&1 &
echo $! >"$work/remote.pid"
until curl -s -o /dev/null http://10.213.0.2:5000/v2/; do sleep 0.05; done
REMOTE=10.213.0.2:5000
$testgen debian --rootfs "$rootfs" -o "$work/layout" --compression gzip >/dev/null
skopeo copy -q --dest-tls-verify=false oci:"$work/layout":latest docker://"$PLAIN"/lode/debian:v1
image=docker://"$PLAIN"/lode/debian:v1
export LODE_KEYS="$work/keys"
$lode key create bench >/dev/null

seconds() { # COMMAND...: wall seconds of the command
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
peak_rss_mib() { # COMMAND...: peak resident set of the command, MiB
  /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.0f\n", $1 / 1024}'
}

# One round of the four pulls from HOST (plain http) into files named PREFIX-*.
round() { # HOST PREFIX
  local host=$1 p=$work/$2 image=docker://$1/lode/debian:v1 copy push
  rm -rf "$work/oci" "$work/store" "$work/store2"
  seconds skopeo copy -q --src-tls-verify=false "$image" oci:"$work/oci":v1 >>"$p-skopeo"
  seconds $lode push "$image" --tls-verify=false --tenant bench --store dir://"$work/store" >>"$p-lode"
  rm -rf "$work/oci"
  copy=$(seconds skopeo copy -q --src-tls-verify=false "$image" oci:"$work/oci":v1)
  push=$(seconds $lode push oci:"$work/oci":v1 --tenant bench --store dir://"$work/store2")
  echo "$copy + $push" | bc >>"$p-both"
  : >"$work/registry/plain.log"
  : >"$work/remote.log"
  seconds $lode push "$image" --tls-verify=false --tenant bench --store dir://"$work/store" >>"$p-again"
  cat "$work/registry/plain.log" "$work/remote.log" | grep -c '"GET /v2/[^ ]*/blobs/' >>"$p-blobs" || true
  rm -rf "$work/store"
  peak_rss_mib $lode push "$image" --tls-verify=false --tenant bench --store dir://"$work/store" >>"$p-rss"
}

report() { # PREFIX TITLE
  local p=$work/$1 skopeo_s lode_s both_s again_s
  skopeo_s=$(median <"$p-skopeo")
  lode_s=$(median <"$p-lode")
  both_s=$(median <"$p-both")
  again_s=$(median <"$p-again")
  echo
  echo "$2"
  echo
  echo "| pull | seconds | vs skopeo copy |"
  echo "|---|---|---|"
  printf "| skopeo copy docker:// oci: (download only) | %.2f | 1.00 |\n" "$skopeo_s"
  printf "| lode push docker:// (download, flatten, seal, store) | %.2f | %.2f |\n" "$lode_s" "$(echo "$lode_s / $skopeo_s" | bc -l)"
  printf "| skopeo copy, then lode push oci: | %.2f | %.2f |\n" "$both_s" "$(echo "$both_s / $skopeo_s" | bc -l)"
  printf "| lode push docker:// again (unchanged image) | %.3f | blobs downloaded: %s |\n" "$again_s" "$(sort -n "$p-blobs" | tail -1)"
  echo
  echo "peak RSS of lode push docker://: $(median <"$p-rss") MiB (median)"
}

for ((i = 1; i <= runs; i++)); do
  round "$PLAIN" loopback
  round "$REMOTE" link
done
compressed=$(du -sb "$work/registry/data/docker/registry/v2/blobs" | cut -f1)
echo "image: $(python3 -c "import json;m=json.load(open('$work/layout/index.json'));print(m['manifests'][0]['digest'])"), $((compressed / 1048576)) MiB of blobs in the registry; medians of $runs runs"
report loopback "Registry on 127.0.0.1:"
report link "Registry across a ${link_mbit} Mbit/s link (veth + tc tbf, network namespace):"
