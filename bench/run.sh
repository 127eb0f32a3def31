#!/usr/bin/env bash
# Measures the foundation's figures side by side with their yardsticks, in one run:
#   1. GET /runs/{id}/status   vs nginx serving a static JSON file of the same size (wrk)
#   2. durable POST /runs      vs one-row-per-commit durable SQLite inserts (same disk),
#                                 then p99 latency at half of Sluice's maximum rate (loadgen)
#   3. resident memory and start-up time with 100,000 stored runs
# Usage: bench/run.sh [DURATION_SECONDS]   (default 10). Results: stdout and bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
scripts/install-deps.sh bench
BUILD_DIR=build-bench BUILD_TYPE=Release scripts/build.sh -DSLUICE_BUILD_TESTS=OFF \
  -DSLUICE_BUILD_BENCH=ON >/dev/null
B=$PWD/build-bench
# The work dir sits on the same disk as the repository (and so ./var).
WORK=$(mktemp -d "$PWD/bench/out/work.XXXXXX" 2>/dev/null || { mkdir -p bench/out; mktemp -d "$PWD/bench/out/work.XXXXXX"; })
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
source bench/nginx.sh

# Starts `sluice serve` on a free port with data dir $1; sets SLUICE_URL and SLUICE_PID.
start_sluice() {
  local dir=$1; shift
  mkdir -p "$dir"
  coproc SLUICE { exec "$B/sluice" serve --port 0 --data-dir "$dir" --log-level warn "$@"; }
  SLUICE_PID=$SLUICE_PID
  PIDS+=("$SLUICE_PID")
  local line
  read -r line <&"${SLUICE[0]}"
  SLUICE_URL=${line#listening on }
}
stop_sluice() { kill "$SLUICE_PID"; wait "$SLUICE_PID" 2>/dev/null || true; }

wrk_rps() {  # wrk_rps URL -> requests/second; fails if any answer was not a success
  local out
  out=$(wrk -t2 -c32 -d"${DURATION}s" "$1")
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "wrk $1: $(grep 'Non-2xx' <<<"$out")" >&2
    return 1
  fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

# ext4 without a journal (as on these machines) will not reuse an inode deleted in the last
# 30-35 s: each new file or directory then scans past the recently deleted ones, and file
# creation gets several times slower right after a mass deletion, such as a previous bench's
# clean-up (POST p50 went from 3.7 to 7.3 ms). Sluice creates a run's task dirs and files;
# the SQLite yardstick creates none. Let such deletions age out before measuring.
sync
sleep "${SETTLE_SECONDS:-40}"

MOCK='{"workflow_type":"MOCK","workflow_type_version":"1.0","workflow_url":"mock://bench","workflow_params":{"tasks":1,"task_seconds":0}}'

echo "== 1. GET /runs/{id}/status vs nginx static file (wrk -t2 -c32 -d${DURATION}s)"
start_sluice "$WORK/status"
RUN=$(curl -sf -H 'Content-Type: application/json' -d "$MOCK" "$SLUICE_URL/ga4gh/wes/v1/runs" | json_field run_id)
for _ in $(seq 100); do
  STATE=$(curl -sf "$SLUICE_URL/ga4gh/wes/v1/runs/$RUN/status" | json_field state)
  [ "$STATE" = COMPLETE ] && break
  sleep 0.1
done
curl -sf "$SLUICE_URL/ga4gh/wes/v1/runs/$RUN/status" > "$WORK/status.json"
SIZE=$(stat -c %s "$WORK/status.json")
start_nginx "$WORK/nginx" "$WORK/status.json"
PIDS+=("$NGINX_PID")
NG1=$(wrk_rps "$NGINX_URL")
SL1=$(wrk_rps "$SLUICE_URL/ga4gh/wes/v1/runs/$RUN/status")
NG2=$(wrk_rps "$NGINX_URL")
SL2=$(wrk_rps "$SLUICE_URL/ga4gh/wes/v1/runs/$RUN/status")
NG=$(python3 -c "print(($NG1+$NG2)/2)"); SL=$(python3 -c "print(($SL1+$SL2)/2)")
STATUS_RATIO=$(ratio "$SL" "$NG")
echo "   body $SIZE bytes; nginx $NG1 / $NG2 req/s; sluice $SL1 / $SL2 req/s; ratio $STATUS_RATIO (goal >= 0.5)"
stop_sluice

echo "== 2. durable POST /runs vs one-row-per-commit durable SQLite inserts"
BASE=$("$B/bench/sqlite_insert_baseline" --db "$WORK/baseline.db" --duration "$DURATION" | json_field inserts_per_second)
echo "$MOCK" > "$WORK/run.json"
start_sluice "$WORK/post"
MAX=$("$B/bench/loadgen" --url "$SLUICE_URL/ga4gh/wes/v1/runs" --method POST \
  --body-file "$WORK/run.json" --connections 64 --duration "$DURATION")
MAX_RATE=$(echo "$MAX" | json_field rate)
POST_RATIO=$(ratio "$MAX_RATE" "$BASE")
HALF=$(python3 -c "print(int($MAX_RATE/2))")
# Half load on a fresh server: the closed-loop phase accepts runs faster than they can be
# executed, and its backlog (tens of thousands of queued MOCK runs) would still be running.
stop_sluice
start_sluice "$WORK/post-half"
AT_HALF=$("$B/bench/loadgen" --url "$SLUICE_URL/ga4gh/wes/v1/runs" --method POST \
  --body-file "$WORK/run.json" --connections 64 --duration "$DURATION" --rate "$HALF")
P99=$(echo "$AT_HALF" | json_field p99_ms)
echo "   sqlite one-per-commit $BASE/s; sluice max $MAX_RATE/s; ratio $POST_RATIO (goal >= 2)"
echo "   at $HALF/s (half): $AT_HALF (goal p99 < 10 ms)"
stop_sluice

echo "== 3. memory and start-up with 100,000 stored runs"
"$B/bench/fill_store" --db "$WORK/mem/sluice.db" --runs 100000 --tasks 3
T0=$(date +%s%N)
start_sluice "$WORK/mem"
T1=$(date +%s%N)
STARTUP_MS=$(( (T1 - T0) / 1000000 ))
# Exercise it: list every page of runs, a few thousand status lookups.
TOKEN=""
for _ in $(seq 200); do
  PAGE=$(curl -sf "$SLUICE_URL/ga4gh/wes/v1/runs?page_size=500${TOKEN:+&page_token=$TOKEN}")
  TOKEN=$(echo "$PAGE" | json_field next_page_token)
  [ -z "$TOKEN" ] && break
done
SOME=$(curl -sf "$SLUICE_URL/ga4gh/wes/v1/runs?page_size=1" | python3 -c "import json,sys; print(json.load(sys.stdin)['runs'][0]['run_id'])")
wrk -t2 -c16 -d3s "$SLUICE_URL/ga4gh/wes/v1/runs/$SOME/status" >/dev/null
curl -sf "$SLUICE_URL/ga4gh/wes/v1/service-info" >/dev/null
RSS_KB=$(awk '/VmRSS/ {print $2}' /proc/"$SLUICE_PID"/status)
RSS_MB=$(( RSS_KB / 1024 ))
echo "   start-up to listening: ${STARTUP_MS} ms (goal < 100); resident after use: ${RSS_MB} MB (goal < 100)"
stop_sluice

mkdir -p bench/out
OUT=bench/out/results-$(date +%Y%m%d-%H%M%S).md
{
  echo "| figure | sluice | yardstick | ratio / value | goal |"
  echo "|---|---|---|---|---|"
  echo "| GET status req/s (wrk -t2 -c32) | $SL | nginx static $SIZE B: $NG | $STATUS_RATIO | >= 0.5 |"
  echo "| durable POST /runs per s (64 conns) | $MAX_RATE | SQLite 1 row/commit: $BASE | $POST_RATIO | >= 2 |"
  echo "| POST p99 at $HALF/s | $P99 ms | | | < 10 ms |"
  echo "| start-up, 100k runs | ${STARTUP_MS} ms | | | < 100 ms |"
  echo "| resident memory, 100k runs | ${RSS_MB} MB | | | < 100 MB |"
} | tee "$OUT"
