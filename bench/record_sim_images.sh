#!/usr/bin/env bash
# Records lode sim's base images from real Debian images (issue 26), into
# configs/sim/debian-images.jsonl: each a bookworm minbase with python3 and
# more packages, pushed to one dir:// store (one tenant and salt, so images
# sharing files share chunk ids), started once through an agent running a
# command (which records its startup profile), then printed by `lode
# inspect --sim-image`: its stored chunks and the chunks that start read,
# in order.
#   python3   python3 -c 'import json, email.parser'
#   nodejs    + nodejs: node -e 'console.log(42)'
#   jre       + default-jre-headless: java -version
#   curl      + curl: curl --version
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
bench_build lode lode-testgen
bench_store sim-images
trap bench_cleanup EXIT
out=configs/sim/debian-images.jsonl

record() { # NAME PACKAGES COMMAND...
  local name=$1 packages=$2
  shift 2
  local tar="$cache/debian-bookworm-python3${packages:+-${packages//,/-}}.tar"
  echo "== $name" >&2
  bash scripts/debian-rootfs.sh "$tar" "$packages"
  $testgen debian --rootfs "$tar" -o "$work/oci-$name" --compression gzip >/dev/null
  $lode push "$work/oci-$name" --tenant bench --tag "$name" >/dev/null
  bench_start_agent --prefetch off
  $lode run "$name" --tenant bench --socket "$work/sock" --runtime chroot -- "$@" >/dev/null 2>&1
  bench_stop_agent # the agent saves the profile on detach
  $lode inspect "$name" --tenant bench --sim-image >>"$work/images.jsonl"
}

rm -f "$work/images.jsonl"
record python3 "" python3 -c 'import json, email.parser; print(42)'
record nodejs nodejs node -e 'console.log(42)'
record jre default-jre-headless java -version
record curl curl curl --version
cp "$work/images.jsonl" "$out.partial"
mv "$out.partial" "$out"
python3 - "$out" <<'PY'
import json, sys
images = [json.loads(line) for line in open(sys.argv[1])]
ids = [set(i["start_set"]) for i in images]
for image, own in zip(images, ids):
    shared = len(own & set().union(*(o for o in ids if o is not own)))
    print("%-40s %6d chunks, start reads %5d (%.1f%%), %d of them in another image's start set"
          % (image["name"], image["chunks"], len(own), 100 * len(own) / image["chunks"], shared))
PY
