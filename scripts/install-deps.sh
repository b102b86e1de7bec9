#!/usr/bin/env bash
# Installs everything lode needs to build, test and benchmark, from Debian 12
# packages only. Idempotent: packages already present are not reinstalled and
# the package lists are refreshed only when something is missing.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang-format clang libclang-rt-14-dev
  # libraries
  libarchive-dev libisal-dev libzstd-dev libssl-dev libsodium-dev
  fuse3 libcurl4-openssl-dev libmemcached-dev libmicrohttpd-dev
  nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev
  # test oracles and tools
  e2fsprogs libext2fs-dev umoci mmdebstrap zstd gzip tar attr python3
  util-linux time isal bc
  # running containers (lode run), benchmarks (iproute2: shaped links)
  crun fio iproute2 prometheus
  # function sandboxes: outbound network without host configuration
  slirp4netns
  # microVMs (lode run --vm): QEMU and Debian's guest kernel with its modules
  qemu-system-x86 linux-image-amd64
  # the L2 tier: memcached servers started by tests
  memcached
  # a load balancer in front of function hosts (tests)
  haproxy
  # the figures of lode sim's report
  gnuplot-nox
  # open-addressing hash maps for the caches' LRU-K index
  libabsl-dev
  # the containerd snapshotter: gRPC and protobuf, containerd's API .proto
  # files (Debian's Go source package installs them), SQLite for metadata,
  # and a real containerd for the tests
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  golang-github-containerd-containerd-dev libsqlite3-dev containerd
  # a containerd client that pulls as Kubernetes does (tools/containerd-pull)
  golang-go
  # a real S3 server for the s3:// store: a one-node Ceph with RGW (scripts/rgw.sh)
  ceph ceph-mon ceph-osd ceph-mgr radosgw curl
  # a real OCI registry for registry input, filled by skopeo; htpasswd and
  # openssl make its credentials and certificates (scripts/registry.sh)
  docker-registry skopeo apache2-utils openssl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
