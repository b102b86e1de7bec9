#!/usr/bin/env bash
# Builds (once) the real test image's base: a Debian bookworm minbase rootfs
# with python3 (and PACKAGES, comma-separated), as a tarball, from the
# machine's configured apt sources; further arguments go to mmdebstrap
# (hooks).
# Usage: debian-rootfs.sh OUTPUT.tar [PACKAGES [MMDEBSTRAP OPTION...]]
#   (does nothing when OUTPUT.tar exists)
set -euo pipefail
out=$1
packages=python3${2:+,$2}
shift $(($# < 2 ? $# : 2))
[ -f "$out" ] && exit 0
mkdir -p "$(dirname "$out")"
tmp="$out.partial.tar"
rm -rf "$tmp"
# The machine's own apt sources, wherever they are: deb822 in
# sources.list.d (Debian 12's default) or one-line sources.list (upgraded
# and minimal installs); with neither, mmdebstrap's default mirror.
sources=()
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sources=(/etc/apt/sources.list.d/debian.sources)
elif [ -f /etc/apt/sources.list ] && grep -qE '^\s*deb\s' /etc/apt/sources.list; then
  sources=(/etc/apt/sources.list)
fi
mmdebstrap --quiet --format=tar --variant=minbase --include="$packages" "$@" bookworm "$tmp" \
  "${sources[@]}"
mv "$tmp" "$out"
