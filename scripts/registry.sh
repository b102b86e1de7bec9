#!/usr/bin/env bash
# Real OCI registries on 127.0.0.1 for tests and benchmarks: Debian's
# docker-registry (distribution 2.8) in the auth modes registries use, all
# serving one storage directory, so an image pushed once (skopeo) is visible
# through every one of them.
#
#   bash scripts/registry.sh up DIR        start everything, write DIR/env
#   bash scripts/registry.sh down DIR      stop everything started in DIR
#   bash scripts/registry.sh stop NAME DIR / start NAME DIR
#                                          stop or restart one server (same port)
#
# Servers (NAME: what; DIR/env names its address):
#   plain     HTTP, no auth                                   PLAIN=127.0.0.1:N
#   basic     HTTPS with a self-signed CA, htpasswd (bcrypt)  BASIC=127.0.0.1:N, CA=, CERT_DIR=
#   token     HTTP, token auth through `tokensrv`             TOKEN=127.0.0.1:N, TOKEN_REALM=
#   redirect  htpasswd; blobs answer 307 to `blobhost`, which rejects
#             requests carrying Authorization (like S3)       REDIRECT=127.0.0.1:N, BLOBHOST=
#   proxy     tampering proxy in front of plain               PROXY=127.0.0.1:N, PROXY_MODE=file
#   tproxy    tampering proxy in front of token               TPROXY=127.0.0.1:N, TPROXY_MODE=file
# Credentials everywhere: lode / s3cret (USER=, PASSWORD=). Token lifetime in
# seconds: DIR/token.expires (read on each token request).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
helpers="$here/registry_servers.py"
user=lode
password=s3cret
registries=(plain basic token redirect)

die() {
  echo "registry.sh: $*" >&2
  exit 1
}

wait_for_file() { # FILE SECONDS
  local i
  for ((i = 0; i < $2 * 50; i++)); do
    [ -s "$1" ] && return 0
    sleep 0.02
  done
  return 1
}

wait_for_http() { # URL SECONDS [curl options]
  local url=$1 seconds=$2 i
  shift 2
  for ((i = 0; i < seconds * 50; i++)); do
    curl -s -o /dev/null "$@" "$url" && return 0
    sleep 0.02
  done
  return 1
}

write_config() { # NAME PORT
  local name=$1 port=$2 d=$dir
  {
    cat <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $d/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: lode-registry-fixture
EOF
    case $name in
      basic)
        cat <<EOF
  tls:
    certificate: $d/certs/server.crt
    key: $d/certs/server.key
auth:
  htpasswd:
    realm: lode-test
    path: $d/htpasswd
EOF
        ;;
      token)
        cat <<EOF
auth:
  token:
    realm: http://127.0.0.1:$(cat "$d/tokensrv.port")/token
    service: lode-registry
    issuer: lode-token-issuer
    rootcertbundle: $d/certs/token.crt
EOF
        ;;
      redirect)
        cat <<EOF
auth:
  htpasswd:
    realm: lode-test
    path: $d/htpasswd
middleware:
  storage:
    - name: redirect
      options:
        baseurl: http://localhost:$(cat "$d/blobhost.port")
EOF
        ;;
    esac
    # Old clients' manifests can be stored, for tests that lode refuses them.
    cat <<EOF
compatibility:
  schema1:
    enabled: true
EOF
  } >"$d/$name.yml"
}

start_registry() { # NAME; reuses DIR/NAME.port when it exists
  local name=$1 port=0 i
  [ -s "$dir/$name.port" ] && port=$(cat "$dir/$name.port")
  write_config "$name" "$port"
  : >"$dir/$name.log"
  docker-registry serve "$dir/$name.yml" >>"$dir/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
  for ((i = 0; i < 250; i++)); do
    port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$dir/$name.log" | head -1 | cut -d: -f2 || true)
    [ -n "$port" ] && break
    kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null || die "$name exited: $(tail -3 "$dir/$name.log")"
    sleep 0.02
  done
  [ -n "$port" ] || die "$name did not start"
  echo "$port" >"$dir/$name.port"
  local scheme=http
  [ "$name" = basic ] && scheme=https
  wait_for_http "$scheme://127.0.0.1:$port/v2/" 10 --cacert "$dir/certs/ca.crt" ||
    die "$name does not answer on port $port"
}

start_helper() { # NAME KIND ARGS...; reuses DIR/NAME.port when it exists
  local name=$1 kind=$2 port=0
  shift 2
  [ -s "$dir/$name.port" ] && port=$(cat "$dir/$name.port") && rm -f "$dir/$name.port"
  python3 "$helpers" "$kind" --port "$port" --port-file "$dir/$name.port" \
    --log "$dir/$name.log" "$@" >>"$dir/$name.out" 2>&1 &
  echo $! >"$dir/$name.pid"
  wait_for_file "$dir/$name.port" 10 || die "$name did not start: $(tail -3 "$dir/$name.out")"
}

start_one() { # NAME
  case $1 in
    tokensrv)
      start_helper tokensrv token --users "$dir/users" --key "$dir/certs/token.key" \
        --cert "$dir/certs/token.crt" --expires-file "$dir/token.expires"
      ;;
    blobhost) start_helper blobhost blobhost --root "$dir/data" ;;
    proxy)
      start_helper proxy proxy --upstream-port "$(cat "$dir/plain.port")" --mode-file "$dir/proxy.mode"
      ;;
    tproxy)
      start_helper tproxy proxy --upstream-port "$(cat "$dir/token.port")" --mode-file "$dir/tproxy.mode"
      ;;
    plain | basic | token | redirect) start_registry "$1" ;;
    *) die "unknown server '$1'" ;;
  esac
}

# True while PID runs. An exited server whose parent was this script's
# earlier run is a zombie until PID 1 reaps it, and some PID 1s never do.
running() { # PID
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

stop_one() { # NAME
  local pidfile="$dir/$1.pid"
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 250; i++)); do
    running "$pid" || break
    sleep 0.02
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

make_credentials() {
  mkdir -p "$dir/certs" "$dir/data"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$dir/certs/server.key" -out "$dir/certs/server.crt" 2>/dev/null
  cp "$dir/certs/server.crt" "$dir/certs/ca.crt"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=lode-token-issuer \
    -keyout "$dir/certs/token.key" -out "$dir/certs/token.crt" 2>/dev/null
  htpasswd -Bbn "$user" "$password" >"$dir/htpasswd"
  echo "$user:$password" >"$dir/users"
  echo 300 >"$dir/token.expires"
  echo pass >"$dir/proxy.mode"
  echo pass >"$dir/tproxy.mode"
}

write_env() {
  cat >"$dir/env" <<EOF
PLAIN=127.0.0.1:$(cat "$dir/plain.port")
BASIC=127.0.0.1:$(cat "$dir/basic.port")
TOKEN=127.0.0.1:$(cat "$dir/token.port")
TOKEN_REALM=http://127.0.0.1:$(cat "$dir/tokensrv.port")/token
REDIRECT=127.0.0.1:$(cat "$dir/redirect.port")
BLOBHOST=localhost:$(cat "$dir/blobhost.port")
PROXY=127.0.0.1:$(cat "$dir/proxy.port")
PROXY_MODE=$dir/proxy.mode
TPROXY=127.0.0.1:$(cat "$dir/tproxy.port")
TPROXY_MODE=$dir/tproxy.mode
CA=$dir/certs/ca.crt
CERT_DIR=$dir/certs
USER=$user
PASSWORD=$password
EOF
}

all=(tokensrv blobhost "${registries[@]}" proxy tproxy)

cmd=${1:-}
case $cmd in
  up)
    dir=$(mkdir -p "${2:?DIR}" && cd "$2" && pwd)
    command -v docker-registry >/dev/null || die "docker-registry is not installed (scripts/install-deps.sh)"
    make_credentials
    for name in "${all[@]}"; do start_one "$name"; done
    write_env
    ;;
  down)
    dir=$(cd "${2:?DIR}" && pwd)
    for name in "${all[@]}"; do stop_one "$name"; done
    ;;
  stop | start)
    name=${2:?NAME}
    dir=$(cd "${3:?DIR}" && pwd)
    if [ "$cmd" = stop ]; then stop_one "$name"; else start_one "$name"; fi
    ;;
  *)
    echo "usage: registry.sh up DIR | down DIR | stop NAME DIR | start NAME DIR" >&2
    exit 2
    ;;
esac
