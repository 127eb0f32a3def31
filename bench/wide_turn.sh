#!/usr/bin/env bash
# How long a wide first turn takes: submits MOCK runs of 16 tasks at parallelism 16 to a
# fresh server and prints, per run, the milliseconds from the run's INITIALIZING to its
# RUNNING (all 16 tasks stored, submitted and recorded), read from `sluice audit --json`.
# Usage: bench/wide_turn.sh [BINDIR] [RUNS]   (default build-bench, 4). Needs a built BINDIR
# with sluice and sluice-task-wrapper.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build-bench}
RUNS=${2:-4}
WORK=$(mktemp -d)
coproc S { exec "$BIN/sluice" serve --port 0 --data-dir "$WORK/var" --log-level warn; }
SERVER_PID=$S_PID
trap 'kill $SERVER_PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
read -r line <&"${S[0]}"
URL=${line#listening on }
for _ in $(seq "$RUNS"); do
  RUN=$("$BIN/sluice" submit --server "$URL" --type MOCK --type-version 1.0 --url mock://wide \
    --params '{"tasks": 16, "parallelism": 16, "task_seconds": 2}')
  sleep 2.5
  "$BIN/sluice" audit --server "$URL" --json "$RUN" | python3 -c '
import datetime, json, sys
changes = json.load(sys.stdin)["changes"]
def ms(c): return datetime.datetime.fromisoformat(c["timestamp"].replace("Z", "+00:00")).timestamp() * 1000
run = [c for c in changes if not c.get("task_id")]
init = next(c for c in run if c.get("to") == "INITIALIZING")
running = next(c for c in run if c.get("to") == "RUNNING")
print(f"{ms(running) - ms(init):.0f} ms")'
done
