#!/usr/bin/env bash
# Load harness: the same workloads directly against the simulated rack and
# through a bare httputil.ReverseProxy, nginx and rack-gateway, in one run.
#
#   bash bench/run.sh [load flags...]     e.g. bash bench/run.sh -get-duration 20s -workloads get,upload
#   BENCH_PROFILE=/tmp/prof bash bench/run.sh -workloads get,release
#       runs the gateway in-process under runtime/pprof (bench/cmd/gwprof) and
#       writes DIR/gateway.cpu.pprof and DIR/gateway.heap.pprof at the end.
#
# Prints a table and writes it to bench/results/latest.txt. Every server is
# its own process on 127.0.0.1; all of them are stopped on exit. About 3½
# minutes on 2 cores. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3

# 500 websockets through a proxy need ~1500 descriptors in the harness alone.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

work=$(mktemp -d /tmp/rgw-bench.XXXXXX)
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then # still there: take its children (nginx workers) along
      for kid in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do kill -KILL "$kid" 2>/dev/null || true; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ] && [ -d "$work" ]; then
    for f in "$work"/*.log; do
      [ -s "$f" ] || continue
      echo "--- last lines of $f" >&2
      tail -n 20 "$f" >&2
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nginx is one of the reference paths (Debian package "nginx").
nginx_bin=$(command -v nginx || true)
[ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ] && nginx_bin=/usr/sbin/nginx
if [ -z "$nginx_bin" ] && command -v apt-get >/dev/null; then
  log "installing nginx"
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null; then
    nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
  fi
fi
[ -n "$nginx_bin" ] && [ -x "$nginx_bin" ] || { log "nginx not available; that path is skipped"; nginx_bin=""; }

# Build. Other work may leave the tree briefly uncompilable: retry a few times.
mkdir -p "$work/bin"
for attempt in 1 2 3 4 5 6; do
  if go build -o "$work/bin/rack-gateway" ./cmd/rack-gateway 2>"$work/build.log" &&
     go build -o "$work/bin/bareproxy" ./bench/cmd/bareproxy 2>>"$work/build.log" &&
     go build -o "$work/bin/load" ./bench/cmd/load 2>>"$work/build.log" &&
     { [ -z "${BENCH_PROFILE:-}" ] || go build -o "$work/bin/gwprof" ./bench/cmd/gwprof 2>>"$work/build.log"; }; then
    break
  fi
  [ "$attempt" -eq 6 ] && { cat "$work/build.log" >&2; log "build failed"; exit 1; }
  log "build failed (attempt $attempt), retrying in 30s: $(head -n 3 "$work/build.log" | tr '\n' ' ')"
  sleep 30
done
bin=$work/bin

# Free loopback ports below the ephemeral range, so that client sockets
# never take them.
used_ports=" "
free_port() { # VAR: set VAR to a port nothing listens on
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 12000))
    case "$used_ports" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      used_ports="$used_ports$p "
      printf -v "$1" '%s' "$p"
      return 0
    fi
  done
  log "no free port"; return 1
}
wait_port() { # NAME PORT PID
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    kill -0 "$3" 2>/dev/null || { log "$1 exited"; return 1; }
    sleep 0.1
  done
  log "$1 did not listen on $2 within 10s"; return 1
}

export BENCH_RACK_PASSWORD="bench-rack-password-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
for v in rack_port bare_port bared_port nginx_port gw_port gwb_port; do free_port "$v"; done

# 1. The simulated rack: the "direct" path.
"$bin/rack-gateway" simrack --addr "127.0.0.1:$rack_port" --password "$BENCH_RACK_PASSWORD" >"$work/simrack.log" 2>&1 &
rack_pid=$!; pids+=("$rack_pid")
wait_port simrack "$rack_port" "$rack_pid"

# 2. Bare ReverseProxy, tuned transport (the reference) and Go's default transport.
"$bin/bareproxy" -addr "127.0.0.1:$bare_port" -target "http://127.0.0.1:$rack_port" -password "$BENCH_RACK_PASSWORD" \
  >"$work/bareproxy.log" 2>&1 &
bare_pid=$!; pids+=("$bare_pid")
"$bin/bareproxy" -default-transport -addr "127.0.0.1:$bared_port" -target "http://127.0.0.1:$rack_port" \
  -password "$BENCH_RACK_PASSWORD" >"$work/bareproxy-default.log" 2>&1 &
bared_pid=$!; pids+=("$bared_pid")
wait_port bareproxy "$bare_port" "$bare_pid"
wait_port bareproxy-default "$bared_port" "$bared_pid"

# 3. nginx, foreground, generated config: keepalive upstream, no buffering,
#    websocket upgrade headers, the rack's credentials injected.
nginx_path=()
if [ -n "$nginx_bin" ]; then
  mkdir -p "$work/nginx"
  user_line=""
  [ "$(id -u)" -eq 0 ] && user_line="user root;"
  rack_basic=$(printf 'convox:%s' "$BENCH_RACK_PASSWORD" | base64 -w0)
  cat >"$work/nginx/nginx.conf" <<EOF
$user_line
worker_processes auto;
error_log $work/nginx.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  client_max_body_size 0;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
  upstream rack {
    server 127.0.0.1:$rack_port;
    keepalive 256;
    keepalive_requests 100000;
  }
  server {
    listen 127.0.0.1:$nginx_port;
    keepalive_requests 100000;
    location / {
      proxy_pass http://rack;
      proxy_http_version 1.1;
      proxy_set_header Host 127.0.0.1:$rack_port;
      proxy_set_header Origin http://127.0.0.1:$rack_port;
      proxy_set_header Authorization "Basic $rack_basic";
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
    }
  }
}
EOF
  "$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' >>"$work/nginx.log" 2>&1 &
  nginx_pid=$!; pids+=("$nginx_pid")
  wait_port nginx "$nginx_port" "$nginx_pid"
  nginx_path=(-path "nginx,http://127.0.0.1:$nginx_port,$nginx_pid,BENCH_RACK_PASSWORD,all")
fi

# 4. The gateway, bootstrapped like a fresh install (SQLite, one admin token).
#    start_gateway NAME BINARY PORT DIR: sets gw_started_pid and gw_started_token.
start_gateway() {
  local name=$1 exe=$2 port=$3 dir=$4
  mkdir -p "$dir"
  export RGW_ADDR="127.0.0.1:$port" RGW_DATABASE_URL="sqlite:$dir/gw.db" \
    RGW_RACK_URL="http://127.0.0.1:$rack_port" RGW_RACK_PASSWORD="$BENCH_RACK_PASSWORD" \
    RGW_AUDIT_SIGNING_KEY_FILE="$dir/audit-signing.key" RGW_AUDIT_HMAC_KEY_FILE="$dir/audit-hmac.key" \
    RGW_AUDIT_ANCHOR_DIR="$dir/anchors" \
    RGW_LIMIT_MAX_CONNS_PER_IP=8192 # every workload comes from 127.0.0.1: up to 2000 websockets at once
  "$exe" audit keygen --signing-key "$RGW_AUDIT_SIGNING_KEY_FILE" --hmac-key "$RGW_AUDIT_HMAC_KEY_FILE" >"$dir/bootstrap.log" 2>&1
  # MFA is required by default and needs its sealing key (API tokens, the
  # bench's callers, are never asked for a second factor). A baseline
  # binary from before MFA has no mfa-keygen and needs none.
  unset RGW_MFA_ENCRYPTION_KEYS
  if mfa_key=$("$exe" mfa-keygen 2>/dev/null) && [ -n "$mfa_key" ]; then
    export RGW_MFA_ENCRYPTION_KEYS="$mfa_key"
  fi
  "$exe" admin create-user bench@example.com --role admin >>"$dir/bootstrap.log" 2>&1
  gw_started_token=$("$exe" token create --user bench@example.com --name bench 2>>"$dir/bootstrap.log" | tr -d '[:space:]')
  [ -n "$gw_started_token" ] || { log "$name: token create printed nothing"; cat "$dir/bootstrap.log" >&2; exit 1; }
  if [ "$name" = gateway ] && [ -n "${BENCH_PROFILE:-}" ]; then
    mkdir -p "$BENCH_PROFILE"
    BENCH_PROFILE=$(cd "$BENCH_PROFILE" && pwd)
    log "profiling the gateway into $BENCH_PROFILE (its numbers include the profiler's overhead)"
    "$bin/gwprof" -cpuprofile "$BENCH_PROFILE/gateway.cpu.pprof" -memprofile "$BENCH_PROFILE/gateway.heap.pprof" serve \
      >"$dir/gateway.log" 2>&1 &
  else
    "$exe" serve >"$dir/gateway.log" 2>&1 &
  fi
  gw_started_pid=$!; pids+=("$gw_started_pid")
  wait_port "$name" "$port" "$gw_started_pid"
  unset RGW_ADDR RGW_DATABASE_URL RGW_RACK_URL RGW_RACK_PASSWORD RGW_AUDIT_SIGNING_KEY_FILE RGW_AUDIT_HMAC_KEY_FILE \
    RGW_AUDIT_ANCHOR_DIR RGW_LIMIT_MAX_CONNS_PER_IP
}
start_gateway gateway "$bin/rack-gateway" "$gw_port" "$work/gateway"
gw_pid=$gw_started_pid
export BENCH_GATEWAY_TOKEN=$gw_started_token

# 4b. Optionally an earlier build of the gateway beside it (BENCH_BASELINE_GATEWAY=path to its binary), for an A/B
#     comparison in one run: the path "gateway-before".
baseline_path=()
if [ -n "${BENCH_BASELINE_GATEWAY:-}" ]; then
  start_gateway gateway-before "$BENCH_BASELINE_GATEWAY" "$gwb_port" "$work/gateway-before"
  export BENCH_BASELINE_TOKEN=$gw_started_token
  baseline_path=(-path "gateway-before,http://127.0.0.1:$gwb_port/rack,$gw_started_pid,BENCH_BASELINE_TOKEN,all")
fi

log "simrack :$rack_port (pid $rack_pid), bareproxy :$bare_port, bareproxy-default :$bared_port, nginx :$nginx_port, gateway :$gw_port (pid $gw_pid)"
report=bench/results/latest.txt
[ -n "${BENCH_PROFILE:-}" ] && report=$BENCH_PROFILE/report.txt # a profiled run is not the reference
mkdir -p "$(dirname "$report")"
"$bin/load" \
  -path "direct,http://127.0.0.1:$rack_port,$rack_pid,BENCH_RACK_PASSWORD,all" \
  -path "bare-proxy,http://127.0.0.1:$bare_port,$bare_pid,BENCH_RACK_PASSWORD,all" \
  -path "gateway,http://127.0.0.1:$gw_port/rack,$gw_pid,BENCH_GATEWAY_TOKEN,all" \
  "${baseline_path[@]}" \
  -path "bare-default,http://127.0.0.1:$bared_port,$bared_pid,BENCH_RACK_PASSWORD,get+release+object" \
  "${nginx_path[@]}" \
  -note "rack-gateway bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- cmd internal 2>/dev/null || echo ' (+ uncommitted changes)')" \
  -note "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -sr); servers built with $(go env GOVERSION)" \
  -note "paths: direct = simrack itself; bare-proxy = httputil.ReverseProxy, tuned transport; bare-default = same with http.DefaultTransport; nginx $("${nginx_bin:-true}" -v 2>&1 | sed 's/.*nginx\///') worker_processes auto; gateway = rack-gateway serve (SQLite, every call authenticated, authorized, audited)" \
  -out "$report" "$@" &
load_pid=$!
pids=("$load_pid" "${pids[@]}") # in the background so that a signal stops everything at once
wait "$load_pid"
log "report written to $report"
