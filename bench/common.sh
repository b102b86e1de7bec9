# Shared set-up of the benchmark scripts; source it from the repository root.
#   bench_build TARGET...   installs dependencies, builds the targets (Release)
#                           and sets lode, testgen and cache
#   bench_rootfs            builds (once) the Debian rootfs; sets rootfs
#   bench_store NAME        a fresh work directory $cache/NAME with its own
#                           keys, a dir:// store and tenant "bench"; sets work
#   median                  median of the numbers on stdin, one per line

bench_build() {
  bash scripts/install-deps.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j "$(nproc)" --target "$@" >/dev/null
  lode=$PWD/build/src/cli/lode
  testgen=$PWD/build/src/testing/lode-testgen
  cache="${LODE_CACHE_DIR:-$PWD/.cache}"
  mkdir -p "$cache"
}

bench_rootfs() {
  rootfs="$cache/debian-bookworm-python3.tar"
  bash scripts/debian-rootfs.sh "$rootfs"
}

bench_store() {
  work="$cache/$1"
  rm -rf "$work"
  mkdir -p "$work"
  export LODE_KEYS="$work/keys" LODE_STORE="dir://$work/store"
  $lode key create bench >/dev/null
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
