#!/usr/bin/env bash
# PostgreSQL store figure, side by side on one PostgreSQL started here (scripts/postgres.sh):
#   pgbench with a custom script doing the inserts of a submission (the run row and its first
#   history event, one transaction each, on Sluice's own tables, so its indexes and count
#   triggers are paid too)  vs  `sluice serve --store postgres://...` taking durable
#   POST /runs (bench/loadgen, as bench/run.sh measures the SQLite store).
# Goal: sluice >= 0.5 x pgbench.
# Usage: bench/pg/run.sh [DURATION_SECONDS] [PGBENCH_CLIENTS]   (defaults 10, 8)
#   BUILD_DIR=<dir> reuses a build that has `sluice` and `bench/loadgen` (else build-bench
#   is configured and built as bench/run.sh does).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
CLIENTS=${2:-8}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ -z "${BUILD_DIR:-}" ]; then
  scripts/install-deps.sh bench
  BUILD_DIR=build-bench BUILD_TYPE=Release scripts/build.sh -DSLUICE_BUILD_TESTS=OFF \
    -DSLUICE_BUILD_BENCH=ON >/dev/null
  BUILD_DIR=build-bench
fi
B=$(cd "$BUILD_DIR" && pwd)
# The server runs as the postgres user: its directory must not be under /root.
WORK=$(mktemp -d /tmp/sluice-pgbench.XXXXXX)
chmod 755 "$WORK"
SLUICE_PID=""
cleanup() {
  [ -n "$SLUICE_PID" ] && kill "$SLUICE_PID" 2>/dev/null && wait "$SLUICE_PID" 2>/dev/null
  scripts/postgres.sh stop "$WORK/pg" immediate >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

URL=$(scripts/postgres.sh start "$WORK/pg" 0)
echo "== PostgreSQL at $URL"

# Sluice first: it creates its schema (migrations) in the database.
MOCK='{"workflow_type":"MOCK","workflow_type_version":"1.0","workflow_url":"mock://bench","workflow_params":{"tasks":1,"task_seconds":0}}'
echo "$MOCK" > "$WORK/run.json"
start_sluice() {
  mkdir -p "$WORK/data-$1"
  coproc SLUICE { exec "$B/sluice" serve --port 0 --data-dir "$WORK/data-$1" --log-level warn \
    --store "$URL"; }
  SLUICE_PID=$SLUICE_PID
  local line
  read -r line <&"${SLUICE[0]}"
  SLUICE_URL=${line#listening on }
}
stop_sluice() { kill "$SLUICE_PID"; wait "$SLUICE_PID" 2>/dev/null || true; SLUICE_PID=""; }

# The same two inserts as CreateRun (store/postgres/pg_run_store.cc), with a request of the
# same size as bench's MOCK run; the run id is a fresh UUID, as Sluice's are unique ids.
cat > "$WORK/submit.sql" <<'SQL'
BEGIN;
WITH r AS (
  INSERT INTO runs (id, state, workflow_type, workflow_type_version, workflow_url,
    workflow_params, workflow_engine, workflow_engine_version, engine_params, tags,
    attachments, submitted_at, updated_at, idempotency_key, user_name, name)
  VALUES (gen_random_uuid()::text, 1, 'MOCK', '1.0', 'mock://bench',
    '{"task_seconds":0,"tasks":1}', '', '', NULL, NULL, NULL,
    (extract(epoch from clock_timestamp()) * 1000000)::bigint,
    (extract(epoch from clock_timestamp()) * 1000000)::bigint, NULL, 'anonymous', NULL)
  RETURNING seq)
INSERT INTO history (run_seq, task_id, type, from_state, to_state, at, reason)
  SELECT seq, '', 'RunStateChanged', 0, 1,
    (extract(epoch from clock_timestamp()) * 1000000)::bigint, 'submitted' FROM r;
COMMIT;
SQL

pgbench_tps() {
  "$PG_BIN/pgbench" -n -c "$CLIENTS" -j 2 -T "$DURATION" -f "$WORK/submit.sql" "$URL" 2>/dev/null |
    awk '/^tps/ {print int($3)}'
}
sluice_rate() {
  start_sluice "$1"
  "$B/bench/loadgen" --url "$SLUICE_URL/ga4gh/wes/v1/runs" --method POST \
    --body-file "$WORK/run.json" --connections 64 --duration "$DURATION" | json_field rate
  stop_sluice
}

start_sluice init
stop_sluice
echo "== pgbench ($CLIENTS clients, ${DURATION}s) vs sluice POST /runs (64 connections, ${DURATION}s), twice"
PG1=$(pgbench_tps)
SL1=$(sluice_rate 1)
PG2=$(pgbench_tps)
SL2=$(sluice_rate 2)
PG=$(python3 -c "print(int(($PG1 + $PG2) / 2))")
SL=$(python3 -c "print(int(($SL1 + $SL2) / 2))")
RATIO=$(python3 -c "print(f'{$SL / $PG:.2f}')")
echo "   pgbench $PG1 / $PG2 tx/s; sluice ${SL1%.*} / ${SL2%.*} runs/s; ratio $RATIO (goal >= 0.5)"
echo "| durable POST /runs per s, PostgreSQL store (64 conns) | $SL | pgbench run+history, $CLIENTS clients: $PG | $RATIO | >= 0.5 |"
