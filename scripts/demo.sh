#!/usr/bin/env bash
# lode's main job on the embedded default: builds a real small image (Debian
# bookworm with python3, from the machine's apt sources, as a 3-layer OCI
# layout), flattens it into a deterministic ext4 image, pushes it as
# encrypted, deduplicated chunks into a local dir:// store, exports it back
# (checking the bytes), then starts a container from it with `lode run`,
# which loads only the chunks python3 reads, and prints the cold-start
# timings and bytes fetched; a second run starts warm. Needs root (mounts).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" --target lode lode-testgen

work="${LODE_DEMO_DIR:-$PWD/.cache/demo}"
cache="${LODE_CACHE_DIR:-$PWD/.cache}"
mkdir -p "$work" "$cache"
rootfs="$cache/debian-bookworm-python3.tar"
[ -f "$rootfs" ] || echo "== building a Debian bookworm rootfs with python3 (mmdebstrap, ~40 s)"
bash scripts/debian-rootfs.sh "$rootfs"

echo "== writing a 3-layer OCI image layout: $work/oci"
rm -rf "$work/oci"
build/src/testing/lode-testgen debian --rootfs "$rootfs" -o "$work/oci" --compression gzip

lode=build/src/cli/lode
export LODE_KEYS="$work/keys" LODE_STORE="dir://$work/store"
echo "== lode flatten"
$lode flatten "$work/oci" -o "$work/debian.ext4"
echo "sha256: $(sha256sum "$work/debian.ext4" | cut -c1-64)"

echo "== lode push (tenant demo, store $LODE_STORE)"
$lode key list | grep -qx demo || $lode key create demo
$lode push "$work/oci" --tenant demo --tag debian
echo "== lode push again: nothing new to store"
$lode push "$work/oci" --tenant demo
echo "== lode export"
$lode export debian --tenant demo -o "$work/exported.ext4"
cmp "$work/debian.ext4" "$work/exported.ext4" && echo "export is byte-identical to flatten"

echo "== lode run: python3 in a container, image data loaded on demand (cold cache)"
rm -rf "$work/cache"
$lode run debian --tenant demo --cache "$work/cache" --timings -- python3 -c 'print(42)'
echo "== lode run again: warm L1 cache"
$lode run debian --tenant demo --cache "$work/cache" --timings -- python3 -c 'print(42)'
