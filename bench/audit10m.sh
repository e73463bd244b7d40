#!/usr/bin/env bash
# The audit log at scale: generate N events (default 10M) into SQLite and
# PostgreSQL with bench/cmd/auditgen, then measure with bench/cmd/auditq and
# the real CLI: ListAudit p50/p99 per console/API filter, query plans,
# database size per million events, `audit export` (one day, everything) and
# `audit verify` (time, peak RSS), then `audit prune` through the middle
# checkpoint and `audit verify` after it (the database, and the full export
# made before the prune). Writes bench/results/audit-10m.txt (RESULTS=...).
#
#   bench/audit10m.sh                      # 10M events, both databases
#   N=1000000 bench/audit10m.sh            # a quicker validation run
#   DBS=sqlite bench/audit10m.sh           # one database only
#
# PostgreSQL: RGW_BENCH_POSTGRES_DSN (a server where the user may create
# databases; the script creates and drops rgw_audit_bench), else
# RGW_TEST_POSTGRES_DSN. Without either, PostgreSQL is skipped.
# GEN=0 reuses databases a previous run generated in WORK (default
# /tmp/rgw-audit-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10000000}
DBS=${DBS:-"sqlite postgres"}
WORK=${WORK:-/tmp/rgw-audit-bench}
RESULTS=${RESULTS:-bench/results/audit-10m.txt}
REPS=${REPS:-100}
GEN=${GEN:-1}
mkdir -p "$WORK"
go build -o "$WORK/auditgen" ./bench/cmd/auditgen
go build -o "$WORK/auditq" ./bench/cmd/auditq
go build -o "$WORK/rack-gateway" ./cmd/rack-gateway
RG=$WORK/rack-gateway Q=$WORK/auditq

out() { tee -a "$RESULTS.tmp"; }
: >"$RESULTS.tmp"
{
	echo "# Audit log at scale: $N events ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD))"
	echo "# Produced by: N=$N DBS=\"$DBS\" bench/audit10m.sh"
	echo "# Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GB", $2/1e6}' /proc/meminfo); a SHARED VM (other builds and tests ran at the same time): figures are indicative, not promises."
	echo
} | out

pg_base=${RGW_BENCH_POSTGRES_DSN:-${RGW_TEST_POSTGRES_DSN:-}}

for db in $DBS; do
	case $db in
	sqlite)
		dsn="sqlite:$WORK/sqlite/gateway.db" keys=$WORK/sqlite
		if [ "$GEN" = 1 ]; then rm -rf "$WORK/sqlite"; fi
		;;
	postgres)
		if [ -z "$pg_base" ]; then echo "## postgres: skipped (no RGW_BENCH_POSTGRES_DSN)" | out; continue; fi
		dsn=$(printf '%s' "$pg_base" | sed -E 's#/[^/?]*(\?|$)#/rgw_audit_bench\1#')
		keys=$WORK/postgres
		if [ "$GEN" = 1 ]; then
			rm -rf "$WORK/postgres"
			psql "$pg_base" -qc "DROP DATABASE IF EXISTS rgw_audit_bench" -c "CREATE DATABASE rgw_audit_bench"
		fi
		;;
	esac
	cfg=$keys/config.json
	echo "## $db" | out
	if [ "$GEN" = 1 ]; then
		echo "\$ auditgen -db $db -n $N -span 8760h -seed 1 -checkpoint-every 1000" | out
		$Q run -- "$WORK/auditgen" -db "$dsn" -keys "$keys" -n "$N" -span 8760h -seed 1 -checkpoint-every 1000 2>&1 | grep -v '^auditgen: [0-9]* events in' | out
	fi
	echo "\$ auditq size" | out
	$Q size -db "$dsn" | out
	echo "\$ auditq queries -reps $REPS   (the first open applies pending migrations)" | out
	$Q queries -db "$dsn" -reps "$REPS" | out
	echo "\$ auditq explain   (the plain listing query; on SQLite, actor/app/action/time listings go through the block index instead)" | out
	$Q explain -db "$dsn" | out
	day=$(date -u -d "2026-06-01 -30 days" +%Y-%m-%d) next=$(date -u -d "2026-06-01 -29 days" +%Y-%m-%d)
	echo "\$ rack-gateway audit export --since $day --until $next -o day.jsonl" | out
	$Q run -- "$RG" audit export --config "$cfg" --since "$day" --until "$next" -o "$WORK/$db-day.jsonl" | out
	echo "  $(wc -l <"$WORK/$db-day.jsonl") lines, $(du -m "$WORK/$db-day.jsonl" | cut -f1) MB" | out
	echo "\$ rack-gateway audit verify day.jsonl" | out
	# A time-bounded export is a contiguous slice of the chain with an end
	# line; it verifies on its own (checkpoints after its end not required).
	$Q run -- "$RG" audit verify --config "$cfg" "$WORK/$db-day.jsonl" 2>&1 | out || true
	echo "\$ rack-gateway audit export -o all.jsonl" | out
	$Q run -- "$RG" audit export --config "$cfg" -o "$WORK/$db-all.jsonl" | out
	echo "  $(wc -l <"$WORK/$db-all.jsonl") lines, $(du -m "$WORK/$db-all.jsonl" | cut -f1) MB" | out
	echo "\$ rack-gateway audit verify   (the database)" | out
	$Q run -- "$RG" audit verify --config "$cfg" 2>&1 | out || true
	echo "\$ rack-gateway audit verify all.jsonl" | out
	$Q run -- "$RG" audit verify --config "$cfg" "$WORK/$db-all.jsonl" 2>&1 | out || true
	through=$(((N / 2) / 1000 * 1000))
	echo "\$ rack-gateway audit prune --through $through" | out
	$Q run -- "$RG" audit prune --config "$cfg" --through "$through" 2>&1 | out
	$Q size -db "$dsn" | out
	echo "\$ rack-gateway audit verify   (after the prune: from the kept checkpoint and the anchors)" | out
	$Q run -- "$RG" audit verify --config "$cfg" 2>&1 | out || true
	echo "\$ rack-gateway audit verify all.jsonl   (the export made before the prune still verifies against the anchors)" | out
	$Q run -- "$RG" audit verify --config "$cfg" "$WORK/$db-all.jsonl" 2>&1 | out || true
	rm -f "$WORK/$db-all.jsonl" "$WORK/$db-day.jsonl"
	echo | out
done
mv "$RESULTS.tmp" "$RESULTS.new"
echo "wrote $RESULTS.new (merge the before/after notes into $RESULTS by hand)"
