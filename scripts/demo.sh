#!/usr/bin/env bash
# lode's main job on the embedded default: builds a real small image (Debian
# bookworm with python3, from the machine's apt sources, as a 3-layer OCI
# layout) and flattens it into a deterministic ext4 image.
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

echo "== lode flatten"
build/src/cli/lode flatten "$work/oci" -o "$work/debian.ext4"
echo "sha256: $(sha256sum "$work/debian.ext4" | cut -c1-64)"
