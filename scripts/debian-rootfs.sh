#!/usr/bin/env bash
# Builds (once) the real test image's base: a Debian bookworm minbase rootfs
# with python3, as a tarball, from the machine's configured apt sources.
# Usage: debian-rootfs.sh OUTPUT.tar   (does nothing when OUTPUT.tar exists)
set -euo pipefail
out=$1
[ -f "$out" ] && exit 0
mkdir -p "$(dirname "$out")"
tmp="$out.partial.tar"
rm -rf "$tmp"
mmdebstrap --quiet --format=tar --variant=minbase --include=python3 bookworm "$tmp" \
  /etc/apt/sources.list.d/debian.sources
mv "$tmp" "$out"
