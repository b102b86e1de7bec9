#!/usr/bin/env bash
# Dedup benchmark (issue 3): three releases of the real Debian image (v2 adds
# a dependencies layer, v3 updates one package in it) pushed into one dir://
# store. Compares the bytes of chunks stored with the sum of the releases'
# compressed (gzip) layer sizes and with their flattened sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
bench_build lode lode-testgen
bench_rootfs
work="$cache/dedup-bench"
rm -rf "$work"
mkdir -p "$work"
export LODE_KEYS="$work/keys" LODE_STORE="dir://$work/store"
$lode key create bench >/dev/null

layer_bytes() {  # compressed layer blobs of an OCI layout, per its manifest
  python3 - "$1" "$work/layers.txt" <<'PY'
import json, sys, os
root = sys.argv[1]
index = json.load(open(os.path.join(root, "index.json")))
digest = index["manifests"][0]["digest"].split(":")[1]
manifest = json.load(open(os.path.join(root, "blobs/sha256", digest)))
with open(sys.argv[2], "a") as seen:  # digest and size of every layer, for the unique sum
    for layer in manifest["layers"]:
        seen.write(f"{layer['digest']} {layer['size']}\n")
print(sum(layer["size"] for layer in manifest["layers"]))
PY
}

echo "| release | layers (gzip) bytes | flattened bytes | chunks new | chunks existing | bytes uploaded |"
echo "|---|---|---|---|---|---|"
sum_layers=0
sum_flat=0
for v in 1 2 3; do
  $testgen debian --rootfs "$rootfs" --version "$v" -o "$work/v$v" --compression gzip
  layers=$(layer_bytes "$work/v$v")
  $lode push "$work/v$v" --tenant bench --tag "v$v" --json >"$work/push$v.json"
  python3 - "$work/push$v.json" "$v" "$layers" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"| v{sys.argv[2]} | {int(sys.argv[3])} | {j['image_bytes']} | {j['chunks_new']} | {j['chunks_existing']} | {j['bytes_uploaded']} |")
PY
  sum_layers=$((sum_layers + layers))
  sum_flat=$((sum_flat + $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['image_bytes'])" "$work/push$v.json")))
done
stored=$(find "$work/store" -type f -path '*/chunks/*' -printf '%s\n' | awk '{s += $1} END {print s}')
manifests=$(find "$work/store" -type f -path '*/manifests/*' -printf '%s\n' | awk '{s += $1} END {print s}')
echo
unique_layers=$(sort -u "$work/layers.txt" | awk '{s += $2} END {print s}')
echo "sum of compressed layers: $sum_layers bytes (distinct layers only: $unique_layers); sum of flattened images: $sum_flat bytes"
echo "stored: chunks $stored bytes + manifests $manifests bytes = $((stored + manifests)) bytes"
echo "stored / compressed layers: $(echo "scale=3; ($stored + $manifests) / $sum_layers" | bc); stored / distinct layers: $(echo "scale=3; ($stored + $manifests) / $unique_layers" | bc)"
