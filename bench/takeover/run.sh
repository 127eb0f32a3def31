#!/usr/bin/env bash
# Takeover figure: "a replica's death is detected and its executions resumed by another
# replica within 15 seconds", with the DEFAULT lease (lease_seconds 10, renewed every second).
# One PostgreSQL (scripts/postgres.sh) and three `sluice serve` replicas sharing it and one
# data dir; each round submits fresh MOCK runs whose tasks are RUNNING when the replica
# driving the most unfinished runs is killed with -9 at T0 (tasks outlive it), then polls
# the database every ~50 ms (one psql session) and reads the survivors' logs:
#   claimed     T0 -> every run of the victim is owned by a survivor (runs.owner)
#   reattached  T0 -> a survivor logged "re-attached task" for every task of those runs that
#                    was live at T0 (LocalExecutor::Attach succeeded: it watches the task)
#   progress    T0 -> a survivor recorded a new task state for every one of those runs (a
#                    history row after T0); bounded below by the tasks' own length, so its
#                    "lag" (history.at - the task's end_time) tells how soon the survivor
#                    noticed the end of a task it re-attached to
# A replica with a fresh id replaces the victim after each round. At the end every run must
# be COMPLETE with each task run exactly once (one "working for" line in its stdout).
# Goal: claimed and reattached < 15 s. Expected: lease left at T0 (<= 10 s) + <= 1 s claim
# tick. Writes bench/out/takeover.json; exits non-zero if a run is not taken over within
# TAKEOVER_TIMEOUT, makes no progress, or does not end COMPLETE exactly once.
# Usage: bench/takeover/run.sh [ROUNDS] [RUNS_PER_ROUND]   (defaults 3, 30; ~2 min)
#   TASK_SECONDS (20; each run: 4 tasks, 2 at a time), TAKEOVER_TIMEOUT (60 s),
#   BUILD_DIR=<dir> reuses a build that has `sluice` (default build-bench, configured and
#   built as bench/pg/run.sh does when it has none).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
RUNS=${2:-30}
TASK_SECONDS=${TASK_SECONDS:-20}
TAKEOVER_TIMEOUT=${TAKEOVER_TIMEOUT:-60}
TASKS=4
PARALLELISM=2
GOAL_S=15
BUILD_DIR=${BUILD_DIR:-build-bench}
if [ ! -x "$BUILD_DIR/sluice" ]; then
  scripts/install-deps.sh bench
  BUILD_DIR=$BUILD_DIR BUILD_TYPE=Release scripts/build.sh -DSLUICE_BUILD_TESTS=OFF \
    -DSLUICE_BUILD_BENCH=ON >/dev/null
fi
B=$(cd "$BUILD_DIR" && pwd)
OUT=bench/out/takeover.json
mkdir -p bench/out

# The server runs as the postgres user: its directory must not be under /root.
WORK=$(mktemp -d /tmp/sluice-takeover.XXXXXX)
chmod 755 "$WORK"
DATA=$WORK/data
mkdir -p "$DATA" "$WORK/rounds"
declare -A PID=() URL=()   # replica id -> pid / base URL, for the live replicas
ALL_PIDS=()                # every replica started (killing a dead one just fails)
PSQL_PID=""
cleanup() {
  local rc=$? p f
  trap - EXIT
  for p in "${ALL_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${ALL_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  # Tasks outlive their server: end each task's process group (its wrapper's pid, from the
  # task dir), only if that process is still a Sluice task wrapper.
  for f in "$DATA"/runs/*/tasks/*/pid; do
    [ -f "$f" ] || continue
    p=$(head -n1 "$f" 2>/dev/null || true)
    [[ "$p" =~ ^[0-9]+$ ]] || continue
    if { tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null | grep -q "sluice"; then
      kill -TERM -- "-$p" 2>/dev/null || true
    fi
  done
  if [ -n "$PSQL_PID" ]; then kill "$PSQL_PID" 2>/dev/null || true; wait "$PSQL_PID" 2>/dev/null || true; fi
  scripts/postgres.sh stop "$WORK/pg" immediate >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ]; then
    for f in "$WORK"/r*.err; do
      [ -f "$f" ] || continue
      echo "--- last lines of $(basename "$f")" >&2
      tail -n 8 "$f" >&2
    done
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "FAIL: $*" >&2; exit 1; }
now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }
START=$(now_ns)
say() { printf '[%5.1fs] %s\n' "$(ms_since "$START")e-3" "$*"; }

PG_URL=$(scripts/postgres.sh start "$WORK/pg" 0)
say "PostgreSQL at $PG_URL; data dir $DATA"

# One psql session for all queries (a new psql per poll costs ~60 ms here): q SQL prints
# the rows (unaligned, '|' between fields); psql exits on an error, and q fails.
coproc PSQL { exec psql -X -q -At -v ON_ERROR_STOP=1 "$PG_URL" 2>&1; }
PSQL_PID=$PSQL_PID
exec {PSQL_IN}>&"${PSQL[1]}" {PSQL_OUT}<&"${PSQL[0]}"
q() {
  printf '%s;\n\\echo __END__\n' "$1" >&"$PSQL_IN" || die "psql is gone"
  local line
  while IFS= read -r -t 30 line <&"$PSQL_OUT"; do
    [ "$line" = __END__ ] && return 0
    printf '%s\n' "$line"
  done
  die "psql failed on: $1"
}

start_replica() {  # start_replica ID: a replica on the shared store and data dir
  local id=$1 line="" i
  TZ=UTC "$B/sluice" serve --port 0 --store "$PG_URL" --data-dir "$DATA" --replica-id "$id" \
    --max-concurrent-tasks 256 >"$WORK/$id.out" 2>"$WORK/$id.err" &
  PID[$id]=$!
  ALL_PIDS+=("$!")
  for i in $(seq 300); do
    line=$(head -n1 "$WORK/$id.out" 2>/dev/null || true)
    [ -n "$line" ] && break
    kill -0 "${PID[$id]}" 2>/dev/null || die "replica $id exited: $(tail -n 3 "$WORK/$id.err")"
    sleep 0.1
  done
  [[ "$line" == "listening on "* ]] || die "replica $id did not start"
  URL[$id]=${line#listening on }
}

# The first replica alone creates the schema (migrations), then the other two.
NEXT_ID=0
start_replica r0
start_replica r1
start_replica r2
NEXT_ID=3
say "replicas r0 r1 r2 up (lease_seconds default); $ROUNDS rounds of $RUNS runs" \
  "($TASKS tasks of ${TASK_SECONDS}s, $PARALLELISM at a time)"

MOCK=$(printf '{"workflow_type":"MOCK","workflow_type_version":"1.0","workflow_url":"mock://takeover","workflow_params":{"tasks":%d,"parallelism":%d,"task_seconds":%s}}' \
  "$TASKS" "$PARALLELISM" "$TASK_SECONDS")
ALL_RUNS=()
TERMINAL="(5, 6, 7, 8, 10)"

for round in $(seq "$ROUNDS"); do
  RD=$WORK/rounds/$round
  mkdir -p "$RD"
  # Fresh runs, round robin over the live replicas.
  live=("${!PID[@]}")
  fresh=()
  for i in $(seq 0 $((RUNS - 1))); do
    id=${live[$((i % ${#live[@]}))]}
    t=$(now_ns)
    resp=$(curl -sf -X POST -H 'Content-Type: application/json' --data "$MOCK" \
      "${URL[$id]}/ga4gh/wes/v1/runs") || die "submitting to $id failed"
    [[ "$resp" =~ \"run_id\":\"([^\"]+)\" ]] || die "submitting to $id: $resp"
    echo "$id	$(ms_since "$t")" >>"$RD/submit_ms"
    fresh+=("${BASH_REMATCH[1]}")
  done
  ALL_RUNS+=("${fresh[@]}")
  say "round $round: $RUNS runs submitted"
  in_list="'$(IFS=,; echo "${fresh[*]}" | sed "s/,/','/g")'"
  # Until each fresh run is owned and has PARALLELISM tasks RUNNING (state 3).
  t=$(now_ns)
  while :; do
    n=$(q "SELECT count(*) FROM runs r WHERE r.id IN ($in_list) AND r.owner IS NOT NULL
           AND (SELECT count(*) FROM tasks t WHERE t.run_seq = r.seq AND t.state = 3) = $PARALLELISM")
    [ "$n" -eq "$RUNS" ] && break
    [ "$(ms_since "$t")" -lt 60000 ] || die "round $round: only $n of $RUNS runs got running"
    sleep 0.1
  done
  say "round $round: every run owned, $PARALLELISM tasks of each RUNNING"
  # The victim: the replica driving the most unfinished runs (any round's).
  victim=$(q "SELECT owner FROM runs WHERE state NOT IN $TERMINAL AND owner IS NOT NULL
              GROUP BY owner ORDER BY count(*) DESC, owner LIMIT 1")
  [ -n "${PID[$victim]:-}" ] || die "round $round: victim '$victim' is not a live replica"
  T0=$(now_ns)
  kill -9 "${PID[$victim]}"
  wait "${PID[$victim]}" 2>/dev/null || true
  unset "PID[$victim]" "URL[$victim]"
  survivors=("${!PID[@]}")
  # What the victim drove at its death (it is dead now, so these cannot change under it),
  # its leases, and the history position: progress is a task event after it.
  q "DROP TABLE IF EXISTS v; CREATE TEMP TABLE v AS SELECT seq, id, lease_until FROM runs
     WHERE owner = '$victim' AND state NOT IN $TERMINAL" >/dev/null
  H0=$(q "SELECT coalesce(max(seq), 0) FROM history")
  q "SELECT id FROM v ORDER BY seq" >"$RD/runs"
  q "SELECT v.id, t.id FROM v JOIN tasks t ON t.run_seq = v.seq
     WHERE t.state NOT IN $TERMINAL AND t.executor_job_id IS NOT NULL" | tr '|' '\t' >"$RD/live_tasks"
  q "SELECT min(lease_until), max(lease_until) FROM v" | tr '|' '\t' >"$RD/leases"
  nv=$(wc -l <"$RD/runs")
  [ "$nv" -gt 0 ] || die "round $round: $victim drove no unfinished run"
  say "round $round: killed $victim (-9) driving $nv runs," \
    "$(wc -l <"$RD/live_tasks") tasks live; survivors ${survivors[*]}"

  # Poll: per run, the first time it is seen owned by a survivor, and the first time it
  # has a task event after H0 (recorded by that survivor).
  declare -A claimed=() progressed=()
  while :; do
    rows=$(q "SELECT v.id, coalesce(r.owner, ''), EXISTS (SELECT 1 FROM history h
              WHERE h.run_seq = v.seq AND h.seq > $H0 AND h.task_id <> '')
              FROM v JOIN runs r ON r.seq = v.seq")
    el=$(ms_since "$T0")
    while IFS='|' read -r id owner moved; do
      [ -n "$id" ] || continue
      if [ -z "${claimed[$id]:-}" ] && [ -n "$owner" ] && [ "$owner" != "$victim" ]; then
        claimed[$id]=$el
        echo "$id	$el	$owner" >>"$RD/claimed"
      fi
      if [ -n "${claimed[$id]:-}" ] && [ -z "${progressed[$id]:-}" ] && [ "$moved" = t ]; then
        progressed[$id]=$el
        echo "$id	$el" >>"$RD/progressed"
      fi
    done <<<"$rows"
    [ "${#progressed[@]}" -eq "$nv" ] && break
    if [ "${#claimed[@]}" -lt "$nv" ] && [ "$el" -gt $((TAKEOVER_TIMEOUT * 1000)) ]; then
      die "round $round: only ${#claimed[@]} of $nv runs of $victim taken over after ${TAKEOVER_TIMEOUT}s"
    fi
    if [ "$el" -gt $(((TAKEOVER_TIMEOUT + ${TASK_SECONDS%.*} + 30) * 1000)) ]; then
      die "round $round: only ${#progressed[@]} of $nv runs of $victim made progress after takeover"
    fi
    sleep 0.05
  done
  # The first task event after H0 of each run: what it was, when it was recorded, and when
  # the task itself ended (for the lag).
  q "SELECT DISTINCT ON (v.seq) v.id, h.task_id, h.to_state, h.at, coalesce(t.end_time, 0)
     FROM v JOIN history h ON h.run_seq = v.seq AND h.seq > $H0 AND h.task_id <> ''
     LEFT JOIN tasks t ON t.run_seq = v.seq AND t.id = h.task_id
     ORDER BY v.seq, h.seq" | tr '|' '\t' >"$RD/first_events"
  echo "$victim" >"$RD/victim"
  echo "$T0" >"$RD/t0_ns"
  printf '%s\n' "${survivors[@]}" >"$RD/survivors"
  unset claimed progressed
  python3 bench/takeover/summarize.py round "$RD" "$WORK" || die "round $round: bad measurements"
  # Three replicas again for the next round (a fresh id: it claims only free runs).
  new=r$NEXT_ID
  NEXT_ID=$((NEXT_ID + 1))
  start_replica "$new"
  say "replica $new up"
done

# Every run ends COMPLETE, each task ran exactly once.
printf '%s\n' "${ALL_RUNS[@]}" >"$WORK/all_runs"
all_list="'$(IFS=,; echo "${ALL_RUNS[*]}" | sed "s/,/','/g")'"
say "waiting for all ${#ALL_RUNS[@]} runs to end"
t=$(now_ns)
limit_ms=$(( (TASKS / PARALLELISM * ${TASK_SECONDS%.*} + TAKEOVER_TIMEOUT) * 1000 ))
while :; do
  n=$(q "SELECT count(*) FROM runs WHERE id IN ($all_list) AND state NOT IN $TERMINAL")
  [ "$n" -eq 0 ] && break
  [ "$(ms_since "$t")" -lt "$limit_ms" ] || die "$n runs did not end"
  sleep 0.5
done
q "SELECT r.id, r.state, coalesce(r.owner, '') FROM runs r WHERE r.id IN ($all_list)" |
  tr '|' '\t' >"$WORK/final_runs"
q "SELECT r.id, t.id, t.state, coalesce(t.exit_code, -1) FROM runs r JOIN tasks t
   ON t.run_seq = r.seq WHERE r.id IN ($all_list)" | tr '|' '\t' >"$WORK/final_tasks"
python3 bench/takeover/summarize.py final "$WORK" "$OUT" "$GOAL_S" "$TASKS" \
  "$TASK_SECONDS" "$RUNS"
