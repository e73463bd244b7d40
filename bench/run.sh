#!/usr/bin/env bash
# Load harness: the same workloads directly against the simulated rack and
# through a bare httputil.ReverseProxy, nginx and rack-gateway, in one run.
#
#   bash bench/run.sh [load flags...]     e.g. bash bench/run.sh -get-duration 20s -workloads get,upload
#   BENCH_PROFILE=/tmp/prof bash bench/run.sh -workloads get,release
#       runs the gateway in-process under runtime/pprof (bench/cmd/gwprof) and
#       writes DIR/gateway.cpu.pprof and DIR/gateway.heap.pprof at the end.
#
#   bash bench/run.sh -quick -paths direct,bare-proxy,gateway,gateway-pg
#       a short validation run of some paths (-quick: 2 rounds, short windows).
#
# Prints a table and writes it to bench/results/latest.txt. Every server is
# its own process on 127.0.0.1; all of them are stopped on exit. The
# PostgreSQL paths run on a throwaway cluster in the temp dir. About 10
# minutes on 2 cores with every path, under 4 with -quick. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3

# 500 websockets through a proxy need ~1500 descriptors in the harness alone.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

. bench/lib.sh

# -paths LIST (also passed on to the load generator) selects paths; only
# the servers they need are started. Default: every path.
want_paths=""
out_arg="" # a -out given here wins over the default report file
prev=""
for a in "$@"; do
  case "$a" in -paths=* | --paths=*) want_paths=${a#*=} ;; esac
  case "$prev" in -paths | --paths) want_paths=$a ;; esac
  case "$a" in -out=* | --out=*) out_arg=${a#*=} ;; esac
  case "$prev" in -out | --out) out_arg=$a ;; esac
  prev=$a
done
wants() { [ -z "$want_paths" ] || case ",$want_paths," in *",$1,"*) true ;; *) false ;; esac; }

# nginx is one of the reference paths (Debian package "nginx").
nginx_bin=""
if wants nginx; then
  nginx_bin=$(command -v nginx || true)
  [ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ] && nginx_bin=/usr/sbin/nginx
  if [ -z "$nginx_bin" ] && command -v apt-get >/dev/null; then
    log "installing nginx"
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null; then
      nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
    fi
  fi
  [ -n "$nginx_bin" ] && [ -x "$nginx_bin" ] || { log "nginx not available; that path is skipped"; nginx_bin=""; }
fi

# PostgreSQL for the paths gateway-pg and gateway-pg-2: a throwaway cluster
# (Debian package "postgresql" installed when missing).
use_pg=0
if wants gateway-pg || wants gateway-pg-2 || { [ -n "${BENCH_BASELINE_GATEWAY:-}" ] && wants gateway-pg-before; }; then
  if find_pg; then use_pg=1; else log "PostgreSQL not available; the gateway-pg paths are skipped"; fi
fi

# Build.
pkgs=(cmd/rack-gateway bench/cmd/bareproxy bench/cmd/load bench/cmd/tcplb)
[ -n "${BENCH_PROFILE:-}" ] && pkgs+=(bench/cmd/gwprof)
build_bins "${pkgs[@]}"

export BENCH_RACK_PASSWORD="bench-rack-password-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
for v in bare_port bared_port nginx_port gw_port gwb_port gwpg_port gwpgb_port gwpg2_port gwpg2a_port gwpg2b_port; do free_port "$v"; done

# 1. The simulated rack: the "direct" path.
start_simrack

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
gw_bootstrap gateway "$bin/rack-gateway" "$work/gateway" "sqlite:$work/gateway/gw.db" "sqlite:$work/gateway/gw.db"
gw_serve gateway "$bin/rack-gateway" "$gw_port" "$work/gateway" "sqlite:$work/gateway/gw.db"
gw_pid=$gw_started_pid
export BENCH_GATEWAY_TOKEN=$gw_started_token

# 4b. Optionally an earlier build of the gateway beside it (BENCH_BASELINE_GATEWAY=path to its binary), for an A/B
#     comparison in one run: the path "gateway-before".
baseline_path=()
if [ -n "${BENCH_BASELINE_GATEWAY:-}" ]; then
  gw_bootstrap gateway-before "$BENCH_BASELINE_GATEWAY" "$work/gateway-before" "sqlite:$work/gateway-before/gw.db" "sqlite:$work/gateway-before/gw.db"
  gw_serve gateway-before "$BENCH_BASELINE_GATEWAY" "$gwb_port" "$work/gateway-before" "sqlite:$work/gateway-before/gw.db"
  export BENCH_BASELINE_TOKEN=$gw_started_token
  baseline_path=(-path "gateway-before,http://127.0.0.1:$gwb_port/rack,$gw_started_pid,BENCH_BASELINE_TOKEN,all")
fi

# 4c. The gateway on PostgreSQL: one replica (gateway-pg), and two replicas
#     on one database behind bench/cmd/tcplb (gateway-pg-2). Each path has its
#     own database, so neither sees the other's audit log or state.
pg_paths=()
if [ "$use_pg" -eq 1 ]; then
  start_pg
  pg_db() { sed "s#/rgw?#/$2?#" <<<"$1"; } # URL DBNAME: the same server, another database
  for db in rgw_pg0 rgw_pg1 rgw_pg2; do
    as_pg "$pg_bin/psql" -q -h "$work/pg" -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
      -c "CREATE DATABASE $db OWNER rgw_owner" >/dev/null
  done
  if wants gateway-pg; then
    gw_bootstrap gateway-pg "$bin/rack-gateway" "$work/gateway-pg" "$(pg_db "$pg_owner_url" rgw_pg1)" "$(pg_db "$pg_runtime_url" rgw_pg1)"
    export BENCH_GATEWAY_PG_TOKEN=$gw_started_token
    gw_serve gateway-pg "$bin/rack-gateway" "$gwpg_port" "$work/gateway-pg" "$(pg_db "$pg_runtime_url" rgw_pg1)"
    pg_paths+=(-path "gateway-pg,http://127.0.0.1:$gwpg_port/rack,$gw_started_pid/db:$pg_pid,BENCH_GATEWAY_PG_TOKEN,all")
  fi
  if [ -n "${BENCH_BASELINE_GATEWAY:-}" ] && wants gateway-pg-before; then
    # The earlier build on PostgreSQL too (its own database), for an A/B of the PostgreSQL path.
    gw_bootstrap gateway-pg-before "$BENCH_BASELINE_GATEWAY" "$work/gateway-pg-before" "$(pg_db "$pg_owner_url" rgw_pg0)" "$(pg_db "$pg_runtime_url" rgw_pg0)"
    export BENCH_BASELINE_PG_TOKEN=$gw_started_token
    gw_serve gateway-pg-before "$BENCH_BASELINE_GATEWAY" "$gwpgb_port" "$work/gateway-pg-before" "$(pg_db "$pg_runtime_url" rgw_pg0)"
    pg_paths+=(-path "gateway-pg-before,http://127.0.0.1:$gwpgb_port/rack,$gw_started_pid/db:$pg_pid,BENCH_BASELINE_PG_TOKEN,all")
  fi
  if wants gateway-pg-2; then
    gw_bootstrap gateway-pg-2 "$bin/rack-gateway" "$work/gateway-pg-2" "$(pg_db "$pg_owner_url" rgw_pg2)" "$(pg_db "$pg_runtime_url" rgw_pg2)"
    export BENCH_GATEWAY_PG2_TOKEN=$gw_started_token
    gw_serve gateway-pg-2a "$bin/rack-gateway" "$gwpg2a_port" "$work/gateway-pg-2" "$(pg_db "$pg_runtime_url" rgw_pg2)" replica-a
    r1=$gw_started_pid
    gw_serve gateway-pg-2b "$bin/rack-gateway" "$gwpg2b_port" "$work/gateway-pg-2" "$(pg_db "$pg_runtime_url" rgw_pg2)" replica-b
    r2=$gw_started_pid
    start_lb "$gwpg2_port" "$gwpg2a_port" "$gwpg2b_port"
    pg_paths+=(-path "gateway-pg-2,http://127.0.0.1:$gwpg2_port/rack,$r1+$r2+$lb_pid/db:$pg_pid,BENCH_GATEWAY_PG2_TOKEN,all")
  fi
fi

log "simrack :$rack_port (pid $rack_pid), bareproxy :$bare_port, bareproxy-default :$bared_port, nginx :$nginx_port, gateway :$gw_port (pid $gw_pid)"
report=${BENCH_REPORT:-bench/results/latest.txt} # BENCH_REPORT=FILE: a trial run that does not replace the reference
[ -n "${BENCH_PROFILE:-}" ] && report=$BENCH_PROFILE/report.txt # a profiled run is not the reference
mkdir -p "$(dirname "$report")"
"$bin/load" \
  -path "direct,http://127.0.0.1:$rack_port,$rack_pid,BENCH_RACK_PASSWORD,all" \
  -path "bare-proxy,http://127.0.0.1:$bare_port,$bare_pid,BENCH_RACK_PASSWORD,all" \
  -path "gateway,http://127.0.0.1:$gw_port/rack,$gw_pid,BENCH_GATEWAY_TOKEN,all" \
  "${baseline_path[@]}" \
  "${pg_paths[@]}" \
  -path "bare-default,http://127.0.0.1:$bared_port,$bared_pid,BENCH_RACK_PASSWORD,get+release+object" \
  "${nginx_path[@]}" \
  -note "rack-gateway bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- cmd internal 2>/dev/null || echo ' (+ uncommitted changes)')" \
  -note "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -sr); servers built with $(go env GOVERSION)" \
  -note "paths: direct = simrack itself; bare-proxy = httputil.ReverseProxy, tuned transport; bare-default = same with http.DefaultTransport; nginx $("${nginx_bin:-true}" -v 2>&1 | sed 's/.*nginx\///') worker_processes auto; gateway = rack-gateway serve (SQLite, every call authenticated, authorized, audited); gateway-pg = the same on PostgreSQL $("${pg_bin:-false}/postgres" --version 2>/dev/null | awk '{print $3}') (fsync on); gateway-pg-2 = two replicas on one PostgreSQL database behind bench/cmd/tcplb (round robin)" \
  -out "$report" "$@" &
load_pid=$!
pids=("$load_pid" "${pids[@]}") # in the background so that a signal stops everything at once
wait "$load_pid"
log "report written to ${out_arg:-$report}"
