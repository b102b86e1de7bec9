# Shared set-up of the benchmark scripts; source it from the repository root.
#   bench_build TARGET...   installs dependencies, builds the targets (Release)
#                           and sets lode, testgen and cache
#   bench_rootfs            builds (once) the Debian rootfs; sets rootfs
#   bench_store NAME        a fresh work directory $cache/NAME with its own
#                           keys, a dir:// store and tenant "bench"; sets work
#   bench_evict PATH...     drops the files under PATHs (files or directories,
#                           symlinks skipped) from the page cache
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

bench_evict() {
  sync
  python3 - "$@" <<'PY'
import os, sys
for top in sys.argv[1:]:
    paths = [top] if os.path.isfile(top) else [os.path.join(d, f) for d, _, fs in os.walk(top) for f in fs]
    for p in paths:
        if os.path.islink(p):
            continue
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            continue
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
