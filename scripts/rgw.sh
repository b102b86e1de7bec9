#!/usr/bin/env bash
# A one-node Ceph cluster with an RGW S3 endpoint on 127.0.0.1, for tests
# and benchmarks of the s3:// store: one mon, one memstore OSD, radosgw with
# the beast frontend, an S3 user and a bucket.
#   rgw.sh start DIR PORT    prints the environment to use it (AWS_* and LODE_S3_URL)
#   rgw.sh stop DIR
#   rgw.sh stop-rgw DIR      stops only the S3 endpoint (the cluster keeps its data)
#   rgw.sh start-rgw DIR     starts it again
#   rgw.sh user DIR NAME     adds an S3 user NAME; prints its keys (AWS_* lines)
#   rgw.sh bucket DIR NAME   creates a bucket owned by the first user
#   rgw.sh policy DIR BUCKET FILE   sets the bucket's policy (as its owner)
# Cephx is off (a local throwaway cluster); RGW still checks SigV4 for real.
set -euo pipefail
trap 'echo "rgw.sh: failed at line $LINENO: $BASH_COMMAND (logs: $dir/log)" >&2' ERR
cmd=$1
dir=$(realpath -m "$2")

stop() {
  local pids=() pid_file pid
  for pid_file in "$dir"/run/*.pid; do
    [ -f "$pid_file" ] && pids+=("$(cat "$pid_file" 2>/dev/null)")
  done
  for pid in "${pids[@]}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    [ -n "$pid" ] || continue
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$dir"/run/*.pid
}

wait_for_rgw() {
  local port
  port=$(sed -n 's/.*endpoint=127.0.0.1:\([0-9]*\).*/\1/p' "$dir/ceph.conf")
  for _ in $(seq 600); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
    sleep 0.1
  done
  echo "rgw.sh: radosgw did not answer on port $port (see $dir/log)" >&2
  return 1
}

access=lodetestaccess
secret=lodetestsecret0123456789
owner_put() {  # PATH [CURL ARGS...]: a signed PUT as the bucket owner
  local path=$1 port
  shift
  port=$(sed -n 's/.*endpoint=127.0.0.1:\([0-9]*\).*/\1/p' "$dir/ceph.conf")
  curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access:$secret" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "$@" "http://127.0.0.1:$port$path"
}

case "$cmd" in
  user)
    radosgw-admin -c "$dir/ceph.conf" user create --uid="$3" --display-name="$3" \
      --access-key="$3-access" --secret-key="$3-secret-0123456789" >/dev/null
    echo "AWS_ACCESS_KEY_ID=$3-access"
    echo "AWS_SECRET_ACCESS_KEY=$3-secret-0123456789"
    exit 0
    ;;
  bucket)
    owner_put "/$3" >/dev/null
    exit 0
    ;;
  policy)
    owner_put "/$3?policy=" --data-binary "@$4" -H "Content-Type: application/json" >/dev/null
    exit 0
    ;;
  stop)
    stop
    exit 0
    ;;
  stop-rgw)
    pid=$(cat "$dir/run/client.rgw.lode.pid")
    kill -9 "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -f "$dir/run/client.rgw.lode.pid"
    exit 0
    ;;
  start-rgw)
    radosgw -c "$dir/ceph.conf" -n client.rgw.lode
    wait_for_rgw
    exit 0
    ;;
esac

port=$3
mon_port=$((port + 1))
stop
rm -rf "$dir"
mkdir -p "$dir"/{run,log,mon,osd/ceph-0,rgw}
fsid=$(cat /proc/sys/kernel/random/uuid)
conf="$dir/ceph.conf"
cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 2147483648
mon allow pool delete = true
mon warn on pool no redundancy = false
run dir = $dir/run
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
keyring = /dev/null
[client.rgw.lode]
rgw frontends = beast endpoint=127.0.0.1:$port tcp_nodelay=1
rgw data = $dir/rgw
CONF
monmaptool --create --addv a "[v1:127.0.0.1:$mon_port]" --fsid "$fsid" "$dir/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" >/dev/null
ceph-mon -c "$conf" -i a
ceph -c "$conf" osd create >/dev/null
ceph-osd -c "$conf" -i 0 --mkfs >"$dir/log/osd-mkfs.out" 2>&1
# Now and then the monitor refuses the OSD's first registration ("wrong
# fsid", logged in osd.0.log) while it is still settling; a restart then
# registers it.
for attempt in 1 2 3 4 5; do
  ceph-osd -c "$conf" -i 0 2>/dev/null && break
  [ "$attempt" -lt 5 ] || { echo "rgw.sh: the OSD did not start (see $dir/log)" >&2; exit 1; }
  sleep 0.5
done
radosgw -c "$conf" -n client.rgw.lode
wait_for_rgw
radosgw-admin -c "$conf" user create --uid=lode --display-name=lode --access-key="$access" \
  --secret-key="$secret" >/dev/null
# The first requests may fail while RGW creates its pools.
for attempt in $(seq 50); do
  owner_put /lode >/dev/null && break
  [ "$attempt" -lt 50 ] || { echo "rgw.sh: could not create the bucket" >&2; exit 1; }
  sleep 0.2
done
echo "AWS_ACCESS_KEY_ID=$access"
echo "AWS_SECRET_ACCESS_KEY=$secret"
echo "LODE_S3_URL='s3://lode/test?endpoint=http://127.0.0.1:$port&region=us-east-1'"
