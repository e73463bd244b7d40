# Shared by bench/run.sh and bench/crash.sh (sourced, not run): the temp
# dir, process bookkeeping, ports, builds, and the servers the harness
# starts (simulated rack, a throwaway PostgreSQL cluster, gateways, the TCP
# balancer). Everything listens on 127.0.0.1 only.

log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/rgw-bench.XXXXXX")
pids=()   # stopped on exit with SIGTERM, in this order
pg_pid="" # the postmaster: stopped last, with SIGINT (fast shutdown)

stop_pid() { # PID SIGNAL: signal it, wait up to 10 s, then SIGKILL it and its children
  local pid=$1 sig=$2
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then # still there: take its children (nginx workers) along
    for kid in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do kill -KILL "$kid" 2>/dev/null || true; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    stop_pid "$pid" TERM
  done
  [ -n "$pg_pid" ] && stop_pid "$pg_pid" INT
  if [ "$rc" -ne 0 ] && [ -d "$work" ]; then
    for f in "$work"/*.log "$work"/*/*.log "$work"/pg/log; do
      [ -s "$f" ] || continue
      echo "--- last lines of $f" >&2
      tail -n 20 "$f" >&2
    done
  fi
  if [ -n "${BENCH_KEEP:-}" ]; then
    log "kept $work (BENCH_KEEP)"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# build_bins PKG...: go build each ./PKG into $work/bin/NAME (last path
# element). Other work may leave the tree briefly uncompilable: retry.
bin=$work/bin
build_bins() {
  mkdir -p "$bin"
  local attempt pkg ok
  for attempt in 1 2 3 4 5 6; do
    ok=1
    : >"$work/build.log"
    for pkg in "$@"; do
      go build -o "$bin/$(basename "$pkg")" "./$pkg" 2>>"$work/build.log" || { ok=0; break; }
    done
    [ "$ok" -eq 1 ] && return 0
    [ "$attempt" -eq 6 ] && { cat "$work/build.log" >&2; log "build failed"; exit 1; }
    log "build failed (attempt $attempt), retrying in 30s: $(head -n 3 "$work/build.log" | tr '\n' ' ')"
    sleep 30
  done
}

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

rand_hex() { od -An -N16 -tx8 /dev/urandom | tr -d ' \n'; }

# start_simrack: the simulated rack (sets rack_port, rack_pid).
start_simrack() {
  free_port rack_port
  "$bin/rack-gateway" simrack --addr "127.0.0.1:$rack_port" --password "$BENCH_RACK_PASSWORD" >"$work/simrack.log" 2>&1 &
  rack_pid=$!; pids+=("$rack_pid")
  wait_port simrack "$rack_port" "$rack_pid"
}

# find_pg: sets pg_bin to a PostgreSQL server's bin directory (the newest
# /usr/lib/postgresql/N/bin), installing the Debian package "postgresql"
# when there is none. Returns 1 if none can be had.
find_pg() {
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$pg_bin" ] && command -v apt-get >/dev/null; then
    log "installing postgresql"
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; then
      pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    fi
  fi
  [ -n "$pg_bin" ] && [ -x "$pg_bin/postgres" ]
}

# as_pg CMD...: run a PostgreSQL program as the cluster's owner (root may
# not run the server: it runs as the user "postgres" then).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# start_pg: a throwaway cluster in $work/pg on 127.0.0.1 with PostgreSQL's
# default durability (fsync and synchronous_commit on), the way production
# runs. Roles as the README's production instructions: rgw_owner owns the
# database "rgw" and runs migrations, rgw_runtime (append-only audit access)
# runs serve. Local socket: trust for the cluster's owner; TCP: passwords
# (SCRAM). Sets pg_port, pg_pid, pg_owner_url, pg_runtime_url.
start_pg() {
  local d=$work/pg
  free_port pg_port
  mkdir -p "$d"
  chmod 711 "$work" # the postgres user walks through to its directory
  rand_hex >"$d/superuser.pw"
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$d"
  as_pg "$pg_bin/initdb" -D "$d/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$d/superuser.pw" -E UTF8 --no-instructions >"$d/initdb.log" 2>&1 ||
    { cat "$d/initdb.log" >&2; log "initdb failed"; exit 1; }
  as_pg "$pg_bin/pg_ctl" -D "$d/data" -l "$d/log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $d -c max_connections=200" start >/dev/null ||
    { tail -n 20 "$d/log" >&2; log "PostgreSQL did not start"; exit 1; }
  pg_pid=$(head -n 1 "$d/data/postmaster.pid")
  local owner_pw runtime_pw
  owner_pw=$(rand_hex) runtime_pw=$(rand_hex)
  as_pg "$pg_bin/psql" -q -h "$d" -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<EOF
CREATE ROLE rgw_owner LOGIN PASSWORD '$owner_pw';
CREATE ROLE rgw_runtime LOGIN PASSWORD '$runtime_pw';
CREATE DATABASE rgw OWNER rgw_owner;
EOF
  pg_owner_url="postgres://rgw_owner:$owner_pw@127.0.0.1:$pg_port/rgw?sslmode=disable"
  pg_runtime_url="postgres://rgw_runtime:$runtime_pw@127.0.0.1:$pg_port/rgw?sslmode=disable"
  log "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on :$pg_port (pid $pg_pid, fsync on, synchronous_commit on)"
}

# gw_env DIR DATABASE_URL PORT: the gateway's configuration, RGW_* only.
# Replicas share DIR's keys (audit signing and HMAC keys, MFA sealing key)
# and anchor directory, as replicas share them in production.
gw_env() {
  local dir=$1 db=$2 port=$3
  export RGW_ADDR="127.0.0.1:$port" RGW_DATABASE_URL="$db" \
    RGW_RACK_URL="http://127.0.0.1:$rack_port" RGW_RACK_PASSWORD="$BENCH_RACK_PASSWORD" \
    RGW_AUDIT_SIGNING_KEY_FILE="$dir/audit-signing.key" RGW_AUDIT_HMAC_KEY_FILE="$dir/audit-hmac.key" \
    RGW_AUDIT_ANCHOR_DIR="$dir/anchors" \
    RGW_LIMIT_MAX_CONNS_PER_IP=8192 # every workload comes from 127.0.0.1: up to 2000 websockets at once
  unset RGW_MFA_ENCRYPTION_KEYS
  [ -s "$dir/mfa.key" ] && export RGW_MFA_ENCRYPTION_KEYS="$(cat "$dir/mfa.key")"
  return 0
}
gw_unenv() {
  unset RGW_ADDR RGW_DATABASE_URL RGW_RACK_URL RGW_RACK_PASSWORD RGW_AUDIT_SIGNING_KEY_FILE RGW_AUDIT_HMAC_KEY_FILE \
    RGW_AUDIT_ANCHOR_DIR RGW_LIMIT_MAX_CONNS_PER_IP RGW_MFA_ENCRYPTION_KEYS RGW_AUDIT_ORIGIN
}

# gw_bootstrap NAME BINARY DIR OWNER_URL RUNTIME_URL: a fresh install, as the
# README's "Running in production": keys, migrations (PostgreSQL: as the
# owner, granting the runtime role), one admin and one API token (sets
# gw_started_token).
gw_bootstrap() {
  local name=$1 exe=$2 dir=$3 owner=$4 runtime=$5
  mkdir -p "$dir"
  gw_env "$dir" "$owner" 0
  "$exe" audit keygen --signing-key "$RGW_AUDIT_SIGNING_KEY_FILE" --hmac-key "$RGW_AUDIT_HMAC_KEY_FILE" >"$dir/bootstrap.log" 2>&1
  # MFA is required by default and needs its sealing key (API tokens, the
  # bench's callers, are never asked for a second factor). A baseline
  # binary from before MFA has no mfa-keygen and needs none.
  if mfa_key=$("$exe" mfa-keygen 2>/dev/null) && [ -n "$mfa_key" ]; then
    (umask 077 && printf '%s' "$mfa_key" >"$dir/mfa.key")
    export RGW_MFA_ENCRYPTION_KEYS="$mfa_key"
  fi
  if [ "$owner" != "$runtime" ]; then
    "$exe" migrate --grant-runtime rgw_runtime >>"$dir/bootstrap.log" 2>&1 ||
      { cat "$dir/bootstrap.log" >&2; log "$name: migrate failed"; exit 1; }
    export RGW_DATABASE_URL="$runtime"
  fi
  "$exe" admin create-user bench@example.com --role admin >>"$dir/bootstrap.log" 2>&1
  gw_started_token=$("$exe" token create --user bench@example.com --name bench 2>>"$dir/bootstrap.log" | tr -d '[:space:]')
  gw_unenv
  [ -n "$gw_started_token" ] || { log "$name: token create printed nothing"; cat "$dir/bootstrap.log" >&2; exit 1; }
}

# gw_serve NAME BINARY PORT DIR DATABASE_URL [ORIGIN]: start `serve` (sets
# gw_started_pid). With BENCH_PROFILE set, the path named by
# BENCH_PROFILE_PATH (default "gateway") runs under bench/cmd/gwprof instead
# and writes NAME.cpu.pprof, NAME.heap.pprof and NAME.block.pprof there.
gw_serve() {
  local name=$1 exe=$2 port=$3 dir=$4 db=$5 origin=${6:-}
  gw_env "$dir" "$db" "$port"
  [ -n "$origin" ] && export RGW_AUDIT_ORIGIN="$origin"
  if [ "$name" = "${BENCH_PROFILE_PATH:-gateway}" ] && [ -n "${BENCH_PROFILE:-}" ]; then
    mkdir -p "$BENCH_PROFILE"
    BENCH_PROFILE=$(cd "$BENCH_PROFILE" && pwd)
    log "profiling $name into $BENCH_PROFILE (its numbers include the profiler's overhead)"
    "$bin/gwprof" -cpuprofile "$BENCH_PROFILE/$name.cpu.pprof" -memprofile "$BENCH_PROFILE/$name.heap.pprof" \
      -blockprofile "$BENCH_PROFILE/$name.block.pprof" serve >"$dir/$name.log" 2>&1 &
  else
    "$exe" serve >"$dir/$name.log" 2>&1 &
  fi
  gw_started_pid=$!; pids+=("$gw_started_pid")
  gw_unenv
  wait_port "$name" "$port" "$gw_started_pid"
}

# start_lb PORT BACKEND_PORT...: bench/cmd/tcplb in front of the replicas
# (sets lb_pid).
start_lb() {
  local port=$1; shift
  local args=() p
  for p in "$@"; do args+=(-backend "127.0.0.1:$p"); done
  "$bin/tcplb" -addr "127.0.0.1:$port" "${args[@]}" >"$work/tcplb-$port.log" 2>&1 &
  lb_pid=$!; pids+=("$lb_pid")
  wait_port tcplb "$port" "$lb_pid"
}
