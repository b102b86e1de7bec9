# Shared set-up of the benchmark scripts; source it from the repository root.
#   bench_build TARGET...   installs dependencies, builds the targets (Release)
#                           and sets lode, testgen and cache
#   bench_rootfs            builds (once) the Debian rootfs; sets rootfs
#   bench_store NAME        a fresh work directory $cache/NAME with its own
#                           keys, a dir:// store and tenant "bench"; sets work
#   bench_evict PATH...     drops the files under PATHs (files or directories,
#                           symlinks skipped) from the page cache
#   median                  median of the numbers on stdin, one per line
#   bench_start_agent FLAG...  (re)starts an agent on a fresh cache in
#                           $work (socket $work/sock); bench_stop_agent
#   bench_rgw_store PORT    a one-node Ceph RGW on PORT holding $work/oci as
#                           tenant bench's tag app, behind
#                           bench/latency_proxy.py (+10 ms per request);
#                           exports LODE_STORE pointing at the proxy
#   bench_start_serve FLAG...  (re)starts `lode serve` on $port (tenant bench,
#                           the agent on $work/sock, logs in $work/logs);
#                           bench_stop_serve
#   bench_cleanup           stops lode serve, the agent, the proxy and RGW
#                           (trap it)
#   bench_app_image         the Debian image in $work/oci, pushed as tag app

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

agent_pid=""
bench_start_agent() {
  bench_stop_agent
  rm -rf "$work/cache"
  $lode agent --socket "$work/sock" --mountpoint "$work/images" --cache "$work/cache" \
    "$@" 2>>"$work/agent.log" &
  agent_pid=$!
  for _ in $(seq 200); do $lode ps --socket "$work/sock" >/dev/null 2>&1 && return; sleep 0.05; done
  echo "agent did not start" >&2
  exit 1
}

bench_stop_agent() {
  if [ -n "$agent_pid" ]; then
    kill "$agent_pid"
    wait "$agent_pid" || true
    agent_pid=""
  fi
}

serve_pid=""
serve_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bench_start_serve() {
  bench_stop_serve
  $lode serve --listen "127.0.0.1:$serve_port" --tenant bench --socket "$work/sock" \
    --log-dir "$work/logs" "$@" 2>>"$work/serve.log" &
  serve_pid=$!
  for _ in $(seq 200); do curl -s -o /dev/null "127.0.0.1:$serve_port/" && return; sleep 0.05; done
  echo "lode serve did not start" >&2
  exit 1
}

bench_stop_serve() {
  if [ -n "$serve_pid" ]; then
    kill "$serve_pid"
    wait "$serve_pid" || true
    serve_pid=""
  fi
}

proxy_pid=""
bench_rgw_store() {
  local port=$1
  eval "$(bash scripts/rgw.sh start "$work/rgw" "$port" | sed 's/^/export /')"
  LODE_STORE="$LODE_S3_URL" $lode push "$work/oci" --tenant bench --tag app >/dev/null
  python3 bench/latency_proxy.py --upstream-port "$port" --delay-ms 10 \
    --port-file "$work/proxy.port" &
  proxy_pid=$!
  for _ in $(seq 100); do [ -s "$work/proxy.port" ] && break; sleep 0.05; done
  export LODE_STORE="${LODE_S3_URL/127.0.0.1:$port/127.0.0.1:$(cat "$work/proxy.port")}"
}

bench_cleanup() {
  bench_stop_serve
  bench_stop_agent
  if [ -n "$proxy_pid" ]; then kill "$proxy_pid" 2>/dev/null || true; fi
  if [ -d "$work/rgw" ]; then bash scripts/rgw.sh stop "$work/rgw" >/dev/null 2>&1 || true; fi
}

# The Debian image (bookworm + python3) as an OCI layout in $work/oci,
# pushed as tenant bench's tag app.
bench_app_image() {
  $testgen debian --rootfs "$rootfs" -o "$work/oci" --compression gzip >/dev/null
  $lode push "$work/oci" --tenant bench --tag app >/dev/null
}
