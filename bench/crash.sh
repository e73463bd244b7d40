#!/usr/bin/env bash
# Crash under load: two gateway replicas on one PostgreSQL database behind
# bench/cmd/tcplb, the mixed load of bench/cmd/load (GETs, POST releases,
# 1 KiB object POSTs at once), and `kill -9` of one replica mid-run. The
# load goes on against the balancer. Afterwards:
#   - the failed client requests are counted (by kind, per second);
#   - every acknowledged (2xx) mutating call must have its write-ahead
#     attempt event in the audit log (bench/cmd/auditacks on a JSONL export);
#   - `rack-gateway audit verify` must pass on the chain.
#
#   bash bench/crash.sh                         # 40 s of load, the kill after 15 s
#   CRASH_DURATION=60s CRASH_KILL_AFTER=20 bash bench/crash.sh [load flags...]
#   CRASH_KILL_AFTER=0 bash bench/crash.sh      # the same checks without a kill
#   CRASH_NOTE="..." adds a line to the report (e.g. what else ran on the machine).
#
# Writes bench/results/crash-pg.txt (CRASH_OUT to change) and exits 1 if a
# check fails. About a minute and a half on 2 cores. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=go1.27.3
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

. bench/lib.sh

duration=${CRASH_DURATION:-40s}
kill_after=${CRASH_KILL_AFTER:-15}
out=${CRASH_OUT:-bench/results/crash-pg.txt}
find_pg || { log "PostgreSQL is needed (Debian package postgresql)"; exit 1; }
build_bins cmd/rack-gateway bench/cmd/load bench/cmd/tcplb bench/cmd/auditacks

export BENCH_RACK_PASSWORD="bench-rack-password-$(rand_hex)"
start_simrack
start_pg
for v in lb_port a_port b_port; do free_port "$v"; done
dir=$work/replicas
gw_bootstrap replicas "$bin/rack-gateway" "$dir" "$pg_owner_url" "$pg_runtime_url"
export BENCH_GATEWAY_TOKEN=$gw_started_token
gw_serve replica-a "$bin/rack-gateway" "$a_port" "$dir" "$pg_runtime_url" replica-a
a_pid=$gw_started_pid
gw_serve replica-b "$bin/rack-gateway" "$b_port" "$dir" "$pg_runtime_url" replica-b
b_pid=$gw_started_pid
start_lb "$lb_port" "$a_port" "$b_port"
log "replica-a :$a_port (pid $a_pid), replica-b :$b_port (pid $b_pid), tcplb :$lb_port, PostgreSQL :$pg_port"

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
"$bin/load" -path "replicas,http://127.0.0.1:$lb_port/rack,0,BENCH_GATEWAY_TOKEN" -mixed "$duration" \
  -ack-log "$work/acks.txt" -out "$work/load.txt" "$@" >/dev/null &
load_pid=$!
pids=("$load_pid" "${pids[@]}")
kill_line="no kill (CRASH_KILL_AFTER=0)"
if [ "$kill_after" != 0 ]; then
  sleep "$kill_after"
  kill -0 "$a_pid" || { log "replica-a died before the kill"; exit 1; }
  kill -KILL "$a_pid"
  wait "$a_pid" 2>/dev/null || true # reaped here, so bash does not report it later
  kill_line="kill -9 replica-a (pid $a_pid) at $(date -u +%H:%M:%S) UTC, ${kill_after}s into the load"
  log "$kill_line"
fi
wait "$load_pid" || { log "load failed"; exit 1; }

# The survivor still answers through the balancer after the run.
after=$(
  exec 3<>"/dev/tcp/127.0.0.1/$lb_port" || exit 0
  printf 'GET /rack/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\nConnection: close\r\n\r\n' \
    "$(printf 'convox:%s' "$BENCH_GATEWAY_TOKEN" | base64 -w0)" >&3
  timeout 10 head -n 1 <&3 | awk '{print $2}'
) || true
survivor=alive
kill -0 "$b_pid" 2>/dev/null || survivor=gone

# Stop the replicas gracefully (their routine audit queues drain), then read
# the log as the operator would: export, check the acks, verify the chain.
stop_pid "$a_pid" TERM # already gone after a kill
stop_pid "$b_pid" TERM
stop_pid "$lb_pid" TERM
gw_env "$dir" "$pg_runtime_url" 0
"$bin/rack-gateway" audit export --format jsonl -o "$work/audit.jsonl" 2>"$work/export.log" || { cat "$work/export.log" >&2; exit 1; }
acks_rc=0
"$bin/auditacks" -acks "$work/acks.txt" -export "$work/audit.jsonl" >"$work/acks-check.txt" || acks_rc=$?
verify_rc=0
"$bin/rack-gateway" audit verify >"$work/verify.txt" 2>&1 || verify_rc=$?
gw_unenv

{
  echo "rack-gateway crash test, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- cmd internal bench 2>/dev/null || echo ' (+ uncommitted changes)')"
  echo "command: bash bench/crash.sh $* (CRASH_DURATION=$duration CRASH_KILL_AFTER=$kill_after)"
  echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(uname -sr); PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') (fsync on, synchronous_commit on)"
  echo "setup: simrack; two rack-gateway serve replicas (runtime role rgw_runtime, shared keys) on one PostgreSQL database; bench/cmd/tcplb round robin in front"
  echo "$kill_line"
  echo "load average at the start: $load_at_start"
  [ -n "${CRASH_NOTE:-}" ] && echo "note: $CRASH_NOTE"
  echo
  cat "$work/load.txt"
  echo
  echo "balancer: $(grep -o 'connections.*' "$work/tcplb-$lb_port.log" | tail -n 1)"
  echo "after the run: replica-b $survivor; GET /apps through the balancer: $after"
  echo
  echo "audit export vs acknowledged calls (bench/cmd/auditacks):"
  sed 's/^/  /' "$work/acks-check.txt"
  echo
  echo "rack-gateway audit verify (exit $verify_rc):"
  sed 's/^/  /' "$work/verify.txt" | grep -v '"level":"WARN"' || true
} >"$work/report.txt"
mkdir -p "$(dirname "$out")"
cp "$work/report.txt" "$out"
cat "$out"
log "report written to $out"
[ "$acks_rc" -eq 0 ] && [ "$verify_rc" -eq 0 ] && [ "$survivor" = alive ] && [ "$after" = 200 ]
