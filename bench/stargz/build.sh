#!/usr/bin/env bash
# Builds the stargz snapshotter's daemon (main.go) and ctr-remote from
# Debian's Go packages, in GOPATH mode (no module proxy is needed).
# Usage: bench/stargz/build.sh OUTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out/gopath/src/k8s.io/cri-api/pkg/apis/runtime/v1alpha2"
cp "$here/cri_authconfig.go.in" "$out/gopath/src/k8s.io/cri-api/pkg/apis/runtime/v1alpha2/authconfig.go"
export GO111MODULE=off GOPATH="$out/gopath:/usr/share/gocode" GOCACHE="$out/go-cache"
[ -x "$out/stargz-daemon" ] || go build -o "$out/stargz-daemon" "$here/main.go"
[ -x "$out/ctr-remote" ] || go build -o "$out/ctr-remote" github.com/containerd/stargz-snapshotter/cmd/ctr-remote
