#!/usr/bin/env bash
# Push benchmarks (issue 3):
#  1. chunk pipeline throughput (sealing 512 KiB chunks from memory, no zstd
#     and zstd, 1 and 2 threads: bench/chunk_bench.cc) against this machine's
#     limit measured in the same run: one AES-256-GCM pass plus two SHA-256
#     passes per byte (`openssl speed -evp ... -bytes 524288`);
#  2. push, then re-push, of an unchanged ~1 GiB image into a dir:// store:
#     time and bytes uploaded.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
bench_build lode lode-testgen chunk_bench
work="$cache/push-bench"
mkdir -p "$work"

speed() {  # bytes per second of one openssl EVP algorithm at 512 KiB
  openssl speed -bytes 524288 -seconds 2 -evp "$1" 2>/dev/null | tail -1 | awk '{sub("k","",$2); printf "%.0f\n", $2 * 1000}'
}
aes=$(speed aes-256-gcm)
sha=$(speed sha256)
limit=$(echo "1 / (1 / $aes + 2 / $sha)" | bc -l)
build/bench/chunk_bench --benchmark_min_time=2 --benchmark_format=json >"$work/chunk.json" 2>/dev/null
echo "machine: AES-256-GCM $(echo "scale=2; $aes / 1000000000" | bc) GB/s, SHA-256 $(echo "scale=2; $sha / 1000000000" | bc) GB/s -> limit $(echo "scale=3; $limit / 1000000000" | bc) GB/s per core"
echo
echo "| pipeline | threads | GB/s | % of limit x threads |"
echo "|---|---|---|---|"
python3 - "$work/chunk.json" "$limit" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
limit = float(sys.argv[2])
for b in data["benchmarks"]:
    name = b["name"]
    zstd = "/1/" in name
    threads = int(name.split("threads:")[1])
    gbs = b["bytes_per_second"] / 1e9
    print(f"| seal{' + zstd' if zstd else ''} | {threads} | {gbs:.2f} | {100 * gbs * 1e9 / (limit * threads):.0f}% |")
PY

[ -d "$work/image" ] || $testgen large --bytes 1073741824 -o "$work/image" --compression gzip
export LODE_KEYS="$work/keys" LODE_STORE="dir://$work/store"
rm -rf "$work/store"
$lode key list | grep -qx bench || $lode key create bench >/dev/null
echo
echo "| push | seconds | chunks new | chunks existing | bytes uploaded |"
echo "|---|---|---|---|---|"
for run in first again; do
  sync; sleep 2
  t0=$(date +%s.%N)
  $lode push "$work/image" --tenant bench --json >"$work/push.json"
  t1=$(date +%s.%N)
  python3 - "$work/push.json" "$run" "$(echo "$t1 - $t0" | bc)" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"| {sys.argv[2]} | {float(sys.argv[3]):.2f} | {j['chunks_new']} | {j['chunks_existing']} | {j['bytes_uploaded']} |")
PY
done
