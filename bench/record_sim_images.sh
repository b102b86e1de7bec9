#!/usr/bin/env bash
# Records lode sim's base images from real Debian images (issue 26), into
# configs/sim/debian-images.jsonl. Each image is a bookworm minbase with
# python3 as its base layer (the same layer in every image, as images built
# FROM one base share it) plus a layer of what more packages add or change;
# all are pushed to one dir:// store (one tenant and salt, so equal chunks
# have one id), started once through an agent running a command (which
# records its startup profile), then printed by `lode inspect --sim-image`:
# its stored chunks and the chunks that start read, in order.
#   python3   (base only) python3 -c 'import json, email.parser'
#   nodejs    + nodejs: node -e 'console.log(42)'
#   jre       + default-jre-headless: java -version
#   curl      + curl: curl --version
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
bench_build lode
bench_store sim-images
trap bench_cleanup EXIT
out=configs/sim/debian-images.jsonl
base="$cache/debian-bookworm-python3.tar"
bash scripts/debian-rootfs.sh "$base"

# The layer that turns rootfs tarball $1 into $2: entries new or changed in
# $2, and whiteouts for those it lacks.
diff_layer() {
  python3 - "$1" "$2" "$3" <<'PY'
import hashlib, os, sys, tarfile
def entries(path):
    out = {}
    with tarfile.open(path) as t:
        for m in t:
            digest = hashlib.sha256(t.extractfile(m).read()).hexdigest() if m.isfile() else None
            out[m.name.lstrip("./")] = (m.type, m.mode, m.uid, m.gid, m.linkname, m.size, digest)
    return out
base, new = entries(sys.argv[1]), entries(sys.argv[2])
changed = {n for n, e in new.items() if base.get(n) != e}
with tarfile.open(sys.argv[2]) as src, tarfile.open(sys.argv[3], "w") as dst:
    for m in src:
        if m.name.lstrip("./") in changed:
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
    for gone in sorted(set(base) - set(new)):
        if os.path.dirname(gone) in base and os.path.dirname(gone) not in set(base) - set(new):
            w = tarfile.TarInfo(os.path.join(os.path.dirname(gone), ".wh." + os.path.basename(gone)))
            dst.addfile(w)
PY
}

record() { # NAME PACKAGES COMMAND...
  local name=$1 packages=$2
  shift 2
  echo "== $name" >&2
  local layers=(--layer "$base")
  if [ -n "$packages" ]; then
    local tar="$cache/debian-bookworm-python3-${packages//,/-}.tar"
    bash scripts/debian-rootfs.sh "$tar" "$packages"
    diff_layer "$base" "$tar" "$work/$name-layer.tar"
    layers+=(--layer "$work/$name-layer.tar")
  fi
  $lode push "${layers[@]}" --tenant bench --tag "$name" >/dev/null
  bench_start_agent --prefetch off
  $lode run "$name" --tenant bench --socket "$work/sock" --runtime chroot -- "$@" >/dev/null 2>&1
  bench_stop_agent # the agent saves the profile on detach
  $lode inspect "$name" --tenant bench --sim-image >>"$work/images.jsonl"
}

rm -f "$work/images.jsonl"
record python3 "" /usr/bin/python3 -c 'import json, email.parser; print(42)'
record nodejs nodejs /usr/bin/node -e 'console.log(42)'
record jre default-jre-headless /usr/bin/java -version
record curl curl /usr/bin/curl --version
cp "$work/images.jsonl" "$out.partial"
mv "$out.partial" "$out"
python3 - "$out" <<'PY'
import json, sys
images = [json.loads(line) for line in open(sys.argv[1])]
sets = [set(i["start_set"]) for i in images]
for image, own in zip(images, sets):
    others = set().union(*(s for s in sets if s is not own))
    print("%-40s %5d chunks, a start reads %4d (%.1f%%), %d of them also in another image's start set"
          % (image["name"], image["chunks"], len(own), 100 * len(own) / image["chunks"],
             len(own & others)))
PY
