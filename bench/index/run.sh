#!/usr/bin/env bash
# Measures the run index and live-state figures (issue 4) side by side with their
# yardsticks, in one run, on a store of RUNS runs with 10 tasks each:
#   0. load the store with index_load (bulk import: runs, tasks, full history, tags, counts)
#   1. store size per run (database file / runs)
#   2. GET /runs/{id}/status over random stored runs: maximum rate (closed loop), then p99
#      at half that rate (open loop, latency from when each request was due), beside nginx
#      serving the same answer as a static file at the same rate
#   3. a page of 50 runs filtered on user + state + tag, newest first: p99 with 1 client and
#      with 50; the same with total=true (answered from maintained counts)
#   4. executor event -> new state visible on SSE and in GET status (event_latency.py)
#   5. state sync apply rate vs batched SQLite inserts on the same disk (statesync_bench)
#   6. the server's resident memory after all of it
# Usage: bench/index/run.sh [RUNS] [SECONDS]   (default 1000000 and 10). Results: stdout
# and bench/out/index-results-*.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-1000000}
DURATION=${2:-10}
scripts/install-deps.sh bench
BUILD_DIR=build-bench BUILD_TYPE=Release scripts/build.sh -DSLUICE_BUILD_TESTS=OFF \
  -DSLUICE_BUILD_BENCH=ON >/dev/null
B=$PWD/build-bench
mkdir -p bench/out
WORK=$(mktemp -d "$PWD/bench/out/index-work.XXXXXX")
SLUICE_PID=""
NGINX_PID=""
cleanup() {
  [ -n "$SLUICE_PID" ] && kill "$SLUICE_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
source bench/nginx.sh
json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

echo "== 0. loading $RUNS runs x 10 tasks"
LOAD=$("$B/bench/index_load" --db "$WORK/data/sluice.db" --runs "$RUNS" --tasks 10 \
  --paths-dir "$WORK")
echo "   $LOAD"
DB_BYTES=$(echo "$LOAD" | json_field "['db_bytes']")
PER_RUN=$(python3 -c "print(round($DB_BYTES/$RUNS))")
echo "== 1. store size: $DB_BYTES bytes, $PER_RUN bytes per run (goal <= 3072)"

coproc SLUICE { exec "$B/sluice" serve --port 0 --data-dir "$WORK/data" --log-level warn; }
SLUICE_PID=$SLUICE_PID
read -r line <&"${SLUICE[0]}"
URL=${line#listening on }

echo "== 2. GET /runs/{id}/status over random runs"
MAX=$("$B/bench/loadgen" --url "$URL/" --paths-file "$WORK/status_paths.txt" \
  --connections 32 --duration "$DURATION")
MAX_RATE=$(echo "$MAX" | json_field "['rate']")
HALF=$(python3 -c "print(int($MAX_RATE/2))")
AT_HALF=$("$B/bench/loadgen" --url "$URL/" --paths-file "$WORK/status_paths.txt" \
  --connections 32 --duration "$DURATION" --rate "$HALF")
STATUS_P99=$(echo "$AT_HALF" | json_field "['p99_ms']")
echo "   max $MAX_RATE/s; at $HALF/s: $AT_HALF (goal p99 < 1 ms)"
# Yardstick: nginx serving one status answer as a static file, same rate, same load
# generator: how much of the tail is the host's (wake-ups on two shared cores).
curl -sf "$URL$(head -1 "$WORK/status_paths.txt")" -o "$WORK/status.json"
start_nginx "$WORK/nginx" "$WORK/status.json"
NGINX_HALF=$("$B/bench/loadgen" --url "$NGINX_URL" --connections 32 --duration "$DURATION" \
  --rate "$HALF")
kill "$NGINX_PID"; wait "$NGINX_PID" 2>/dev/null || true; NGINX_PID=""
NGINX_P99=$(echo "$NGINX_HALF" | json_field "['p99_ms']")
echo "   nginx, the same answer as a static file, at $HALF/s: $NGINX_HALF"

echo "== 3. filtered page (user + state + tag, 50 rows, newest first)"
F1=$("$B/bench/loadgen" --url "$URL/" --paths-file "$WORK/filter_paths.txt" \
  --connections 1 --duration "$DURATION")
F50=$("$B/bench/loadgen" --url "$URL/" --paths-file "$WORK/filter_paths.txt" \
  --connections 50 --duration "$DURATION")
T1=$("$B/bench/loadgen" --url "$URL/" --paths-file "$WORK/filter_total_paths.txt" \
  --connections 1 --duration "$DURATION")
F1_P99=$(echo "$F1" | json_field "['p99_ms']")
F50_P99=$(echo "$F50" | json_field "['p99_ms']")
T1_P99=$(echo "$T1" | json_field "['p99_ms']")
echo "   1 client:  $F1 (goal p99 < 2 ms)"
echo "   50 clients: $F50 (goal p99 < 20 ms)"
echo "   total=true, 1 client: $T1"
SAMPLE=$(head -1 "$WORK/filter_total_paths.txt")
echo "   sample: $SAMPLE -> $(curl -sf "$URL$SAMPLE" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["runs"]), "rows, total", d.get("total"), "estimate" if d.get("total_is_estimate") else "exact")')"

echo "== 4. executor event -> visible (SSE and GET status)"
LAT=$(python3 bench/index/event_latency.py --url "$URL" --data-dir "$WORK/data" --runs 400 --rate 40 \
  --status-runs 400)
SSE_P99=$(echo "$LAT" | json_field "['sse']['p99_ms']")
GET_P99=$(echo "$LAT" | json_field "['status']['p99_ms']")
echo "   $LAT (goal p99 < 10 ms)"

RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/"$SLUICE_PID"/status)
RSS_MB=$(( RSS_KB / 1024 ))
kill "$SLUICE_PID"; wait "$SLUICE_PID" 2>/dev/null || true; SLUICE_PID=""

echo "== 5. state sync vs batched SQLite inserts"
SYNC=$("$B/bench/statesync_bench" --dir "$WORK/sync" --runs 5000 --tasks 10)
SYNC_RATE=$(echo "$SYNC" | json_field "['events_per_second']")
EV_RATE=$(echo "$SYNC" | json_field "['event_rows_per_second']")
INS_RATE=$(echo "$SYNC" | json_field "['insert_rows_per_second']")
SYNC_RATIO=$(echo "$SYNC" | json_field "['ratio']")
INT_RATIO=$(echo "$SYNC" | json_field "['ratio_int_rows']")
echo "   $SYNC (goal ratio >= 0.5)"
echo "== 6. resident memory after all of the above: $RSS_MB MB (goal < 100)"

OUT=bench/out/index-results-$(date +%Y%m%d-%H%M%S).md
{
  echo "| figure ($RUNS runs x 10 tasks) | sluice | yardstick | goal |"
  echo "|---|---|---|---|"
  echo "| store size per run | $PER_RUN B | | <= 3072 B |"
  echo "| GET status p99 at half max ($HALF/s of $MAX_RATE/s) | $STATUS_P99 ms | nginx, static file, same rate: $NGINX_P99 ms | < 1 ms |"
  echo "| filtered page of 50, p99, 1 client | $F1_P99 ms | | < 2 ms |"
  echo "| filtered page of 50, p99, 50 clients | $F50_P99 ms | | < 20 ms |"
  echo "| same with total=true, p99, 1 client | $T1_P99 ms | | (counts) |"
  echo "| event -> SSE, p99 | $SSE_P99 ms | | < 10 ms |"
  echo "| event -> GET status (run state), p99 | $GET_P99 ms | | < 10 ms |"
  echo "| state sync events/s | $SYNC_RATE | batched inserts of the events $EV_RATE rows/s | ratio $SYNC_RATIO >= 0.5 |"
  echo "| (same, stricter yardstick) | | batched 4-integer rows $INS_RATE rows/s | ratio $INT_RATIO |"
  echo "| resident memory | $RSS_MB MB | | < 100 MB |"
} | tee "$OUT"
