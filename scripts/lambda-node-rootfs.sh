#!/usr/bin/env bash
# Builds (once) the base of the Node.js Lambda test image: Debian bookworm
# minbase with Debian's nodejs and AWS's own runtime interface client
# (npm's aws-lambda-ric 3.3.0, whose native part is built from its package
# with Debian's compilers, which are removed again), as a tarball.
# 3.x because 4.x needs node >= 22 and bookworm has 18; npm trusts the
# host's CA bundle during the build.
# Usage: lambda-node-rootfs.sh OUTPUT.tar   (does nothing when OUTPUT.tar exists)
set -euo pipefail
build_tools=npm,node-gyp,libnode-dev,cmake,autoconf,automake,libtool,g++,make,unzip
exec bash "$(dirname "$0")/debian-rootfs.sh" "$1" "nodejs,ca-certificates,$build_tools" \
  --customize-hook='upload /etc/ssl/certs/ca-certificates.crt /tmp/host-ca.crt' \
  --customize-hook='chroot "$1" sh -ec "mkdir -p /opt/ric && cd /opt/ric &&
      HOME=/tmp npm_config_cafile=/tmp/host-ca.crt npm_config_nodedir=/usr \
      npm install --no-audit --no-fund --foreground-scripts aws-lambda-ric@3.3.0 >/tmp/npm.log 2>&1 ||
      { tail -n 30 /tmp/npm.log >&2; exit 1; }
    test -f node_modules/aws-lambda-ric/dist/rapid-client.node"' \
  --customize-hook="chroot \"\$1\" sh -ec 'apt-get purge -y -qq --auto-remove ${build_tools//,/ } >/dev/null
    rm -rf /tmp/* /var/lib/apt/lists/* /var/cache/apt/*.bin'"
