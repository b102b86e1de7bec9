#!/usr/bin/env bash
# Flatten benchmark (issue: lode flatten vs the unpack+mkfs pipeline vs plain
# decompression), on the real Debian image and on a large generated image.
# For each image and each of RUNS runs:
#   decompress  igzip -dc of every layer blob to /dev/null (ISA-L, the same
#               inflater lode uses): the CPU floor for any flattener
#   to file     the same into one file, then sync: the floor for any tool
#               that writes the uncompressed bytes to this disk
#   lode        lode flatten IMAGE -o out.ext4 (peak RSS from GNU time)
#   unpack+mkfs umoci raw unpack, then mkfs.ext4 -d of the unpacked tree
# Prints medians and ratios as a Markdown table. Inputs are cached in
# $LODE_CACHE_DIR (default .cache/); page cache is warm for all three.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
LARGE_BYTES=${LARGE_BYTES:-2306867200}  # 2200 MiB of file content

source bench/common.sh
bench_build lode lode-testgen

work="$cache/bench"
mkdir -p "$work"
bench_rootfs
[ -d "$work/debian" ] || $testgen debian --rootfs "$rootfs" -o "$work/debian" --compression gzip
[ -d "$work/large" ] || $testgen large --bytes "$LARGE_BYTES" -o "$work/large" --compression gzip

now() { date +%s.%N; }
# Lets the disk finish the previous run's writes and discards first.
settle() { sync; sleep 2; }
layer_blobs() {
  python3 - "$1" <<'PY'
import json, sys
d = sys.argv[1]
index = json.load(open(f"{d}/index.json"))
m = json.load(open(f"{d}/blobs/sha256/" + index["manifests"][0]["digest"][7:]))
for l in m["layers"]:
    print(f"{d}/blobs/sha256/" + l["digest"][7:])
PY
}

echo "| image | uncompressed | decompress (s) | to file (s) | lode flatten (s) | unpack+mkfs (s) | unpack+mkfs / lode | lode / decompress | lode / to file | lode peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for name in debian large; do
  img="$work/$name"
  mapfile -t blobs < <(layer_blobs "$img")
  : >"$work/t_dec"; : >"$work/t_file"; : >"$work/t_lode"; : >"$work/t_base"; : >"$work/rss"
  for _ in $(seq "$RUNS"); do
    t0=$(now); for b in "${blobs[@]}"; do igzip -dc "$b" >/dev/null; done; t1=$(now)
    echo "$t1 - $t0" | bc >>"$work/t_dec"

    rm -f "$work/layers.tar"; settle
    t0=$(now); for b in "${blobs[@]}"; do igzip -dc "$b"; done >"$work/layers.tar"; sync -f "$work/layers.tar"; t1=$(now)
    echo "$t1 - $t0" | bc >>"$work/t_file"
    rm -f "$work/layers.tar"

    rm -f "$work/out.ext4"; settle
    /usr/bin/time -f "%e %M" -o "$work/time.txt" $lode flatten "$img" -o "$work/out.ext4" --json >"$work/flatten.json"
    read -r secs rss <"$work/time.txt"
    echo "$secs" >>"$work/t_lode"; echo "$rss" >>"$work/rss"

    rm -rf "$work/rootfs" "$work/mkfs.ext4"
    size_kib=$(( $(stat -c %s "$work/out.ext4") * 3 / 2 / 1024 ))
    settle
    t0=$(now)
    umoci raw unpack --image "$img:latest" "$work/rootfs" >/dev/null 2>&1
    mkfs.ext4 -q -F -b 4096 -d "$work/rootfs" "$work/mkfs.ext4" "${size_kib}k" >/dev/null
    sync -f "$work/mkfs.ext4"
    t1=$(now)
    echo "$t1 - $t0" | bc >>"$work/t_base"
    rm -rf "$work/rootfs" "$work/mkfs.ext4"
  done
  tar_bytes=$(python3 -c "import json; print(json.load(open('$work/flatten.json'))['tar_bytes'])")
  dec=$(median <"$work/t_dec"); file=$(median <"$work/t_file"); fl=$(median <"$work/t_lode"); base=$(median <"$work/t_base"); rss=$(median <"$work/rss")
  printf "| %s | %.0f MiB | %.2f | %.2f | %.2f | %.2f | %.1fx | %.2fx | %.2fx | %.0f MiB |\n" "$name" \
    "$(echo "$tar_bytes / 1048576" | bc -l)" "$dec" "$file" "$fl" "$base" \
    "$(echo "$base / $fl" | bc -l)" "$(echo "$fl / $dec" | bc -l)" "$(echo "$fl / $file" | bc -l)" \
    "$(echo "$rss / 1024" | bc -l)"
done
rm -f "$work/out.ext4"
