#!/usr/bin/env bash
# Measures the ASL engine side by side with aws-local-stepfunctions (an independent
# TypeScript interpreter, run by bench/asl/reference.mjs) in one run, as whole processes:
# `sluice asl run DEF --input IN` against `node reference.mjs DEF IN`, on the same machine.
#   a. a Map of 1,000 items over a Pass state             (goal: sluice >= 50x faster)
#   b. a loop of 10,000 transitions: Choice + Pass with a States.MathAdd counter (>= 50x)
#   c. a Map of 100,000 items: peak resident memory (goal < 150 MB) and time (<= 1/10)
# Item counts are chosen so that every payload stays under the 256 KiB AWS limit.
# Wall time is measured around each process (ns clock), peak RSS by GNU time; a and b report
# the median of REPEAT runs, c one run. Both interpreters' outputs are checked to be equal.
# Needs node and npm (Debian: apt-get install nodejs npm) and GNU time (apt-get install time).
#   d. a and b through `sluice serve` (POST /runs to COMPLETE, every transition and the
#      whole history committed): goal at least as fast as the reference in memory.
# Usage: bench/asl/run.sh [REPEAT]   (default 3). Results: stdout and bench/out/.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEAT=${1:-3}
scripts/install-deps.sh bench
for tool in node npm python3; do
  command -v "$tool" >/dev/null || { echo "bench/asl needs $tool (apt-get install nodejs npm)" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "bench/asl needs GNU time (apt-get install time)" >&2; exit 2; }
BUILD_DIR=build-bench BUILD_TYPE=Release scripts/build.sh -DSLUICE_BUILD_TESTS=OFF \
  -DSLUICE_BUILD_BENCH=ON >/dev/null
SLUICE=$PWD/build-bench/sluice
REF_DIR=$PWD/bench/asl
# The reference, pinned by package-lock.json; reinstalled only when the lock changed.
if [ ! -f "$REF_DIR/node_modules/.package-lock.json" ] ||
   [ "$REF_DIR/package-lock.json" -nt "$REF_DIR/node_modules/.package-lock.json" ]; then
  (cd "$REF_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
REF_VERSION=$(node -p "require('$REF_DIR/node_modules/aws-local-stepfunctions/package.json').version")

mkdir -p bench/out
WORK=$(mktemp -d "$PWD/bench/out/asl-work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
def dump(name, value):
    with open(f"{w}/{name}", "w") as f:
        json.dump(value, f, separators=(",", ":"))
pass_state = {"Type": "Pass", "End": True}
dump("map.asl.json", {"StartAt": "Each", "States": {"Each": {
    "Type": "Map", "ItemsPath": "$.items",
    "ItemProcessor": {"StartAt": "Item", "States": {"Item": pass_state}}, "End": True}}})
dump("map1000.json", {"items": [{"i": i} for i in range(1000)]})
# 100,000 items of 0: the input and the Map result (200 KB each) stay under the 256 KiB
# payload limit of AWS (which sluice enforces too).
dump("map100000.json", {"items": [0] * 100000})
# 5,000 rounds of Choice + Pass: 10,000 transitions (plus Init and the last Choice/Done).
dump("loop.asl.json", {"StartAt": "Init", "States": {
    "Init": {"Type": "Pass", "Result": {"i": 0}, "Next": "Check"},
    "Check": {"Type": "Choice", "Default": "Done",
              "Choices": [{"Variable": "$.i", "NumericLessThan": 5000, "Next": "Inc"}]},
    "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
    "Done": {"Type": "Succeed"}}})
dump("empty.json", {})
PY

# run_once OUT_JSON CMD... : runs CMD (stdout to OUT_JSON); sets MS (wall) and RSS_KB (peak).
run_once() {
  local out=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$WORK/rss" "$@" >"$out" || true
  t1=$(date +%s%N)
  MS=$(( (t1 - t0) / 1000000 ))
  RSS_KB=$(tail -n 1 "$WORK/rss")
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(r.get('status') != 'SUCCEEDED')" "$out" ||
    { echo "run failed: $* -> $(head -c 300 "$out")" >&2; exit 1; }
}

# measure NAME REPEAT CMD... : sets <NAME>_MS and <NAME>_MB (medians over REPEAT runs).
measure() {
  local name=$1 n=$2; shift 2
  local times=() rss=()
  for _ in $(seq "$n"); do
    run_once "$WORK/$name.out.json" "$@"
    times+=("$MS"); rss+=("$RSS_KB")
  done
  printf -v "${name}_MS" '%s' "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
  printf -v "${name}_MB" '%s' "$(printf '%s\n' "${rss[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1024}')"
}

same_output() {  # same_output A.json B.json: both runs produced the same output
  python3 -c "import json,sys; a,b=(json.load(open(p))['output'] for p in sys.argv[1:]); sys.exit(a != b)" "$1" "$2" ||
    { echo "outputs differ: $1 $2" >&2; exit 1; }
}
ratio() { python3 -c "print(f'{$1/max($2, 1e-9):.1f}')"; }

echo "== a. Map of 1,000 items over Pass (median of $REPEAT)"
measure SL_MAP "$REPEAT" "$SLUICE" asl run "$WORK/map.asl.json" --input "$WORK/map1000.json" --quiet
measure REF_MAP "$REPEAT" node "$REF_DIR/reference.mjs" "$WORK/map.asl.json" "$WORK/map1000.json"
same_output "$WORK/SL_MAP.out.json" "$WORK/REF_MAP.out.json"
MAP_RATIO=$(ratio "$REF_MAP_MS" "$SL_MAP_MS")
echo "   sluice $SL_MAP_MS ms / $SL_MAP_MB MB; reference $REF_MAP_MS ms / $REF_MAP_MB MB; ${MAP_RATIO}x (goal >= 50x)"

echo "== b. loop of 10,000 transitions (median of $REPEAT)"
measure SL_LOOP "$REPEAT" "$SLUICE" asl run "$WORK/loop.asl.json" --input "$WORK/empty.json" --quiet
measure REF_LOOP "$REPEAT" node "$REF_DIR/reference.mjs" "$WORK/loop.asl.json" "$WORK/empty.json"
same_output "$WORK/SL_LOOP.out.json" "$WORK/REF_LOOP.out.json"
LOOP_RATIO=$(ratio "$REF_LOOP_MS" "$SL_LOOP_MS")
echo "   sluice $SL_LOOP_MS ms / $SL_LOOP_MB MB; reference $REF_LOOP_MS ms / $REF_LOOP_MB MB; ${LOOP_RATIO}x (goal >= 50x)"

echo "== c. Map of 100,000 items over Pass (one run each)"
measure SL_BIG 1 "$SLUICE" asl run "$WORK/map.asl.json" --input "$WORK/map100000.json" --quiet
measure REF_BIG 1 node "$REF_DIR/reference.mjs" "$WORK/map.asl.json" "$WORK/map100000.json"
same_output "$WORK/SL_BIG.out.json" "$WORK/REF_BIG.out.json"
BIG_RATIO=$(ratio "$REF_BIG_MS" "$SL_BIG_MS")
echo "   sluice $SL_BIG_MS ms / $SL_BIG_MB MB; reference $REF_BIG_MS ms / $REF_BIG_MB MB; ${BIG_RATIO}x (goals < 150 MB, >= 10x)"

echo "== d. through the server, every transition durable (median of $REPEAT)"
# `sluice serve` on a fresh data dir; the same definitions are attached to WES submissions
# and the time is from POST /runs to the run being COMPLETE (polled every 2 ms), with the
# execution's whole history committed to SQLite (synchronous=FULL) before it ends.
SERVE_DIR="$WORK/serve"
mkdir -p "$SERVE_DIR"
coproc SERVER { exec "$SLUICE" serve --port 0 --data-dir "$SERVE_DIR" --log-level warn; }
SERVER_PID_=$SERVER_PID
trap 'kill "$SERVER_PID_" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
read -r LINE <&"${SERVER[0]}"
URL=${LINE#listening on }
# server_run NAME DEF INPUT: submits and waits; prints the wall time in ms.
server_run() {
  python3 - "$URL" "$1" "$2" "$3" <<'PY'
import json, sys, time, urllib.request, uuid
url, name, definition, inp = sys.argv[1:]
body_parts = []
boundary = uuid.uuid4().hex
def part(field, value, filename=None):
    disp = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + value + b"\r\n"
data = b"".join([
    part("workflow_type", b"ASL"), part("workflow_type_version", b"1.0"),
    part("workflow_url", name.encode()), part("workflow_params", open(inp, "rb").read()),
    part("workflow_attachment", open(definition, "rb").read(), name)]) + f"--{boundary}--\r\n".encode()
req = urllib.request.Request(url + "/ga4gh/wes/v1/runs", data=data,
                             headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
t0 = time.monotonic()
run = json.load(urllib.request.urlopen(req))["run_id"]
while True:
    state = json.load(urllib.request.urlopen(f"{url}/ga4gh/wes/v1/runs/{run}/status"))["state"]
    if state not in ("QUEUED", "INITIALIZING", "RUNNING"):
        break
    time.sleep(0.002)
ms = (time.monotonic() - t0) * 1000
if state != "COMPLETE":
    sys.exit(f"run {run} ended {state}")
print(f"{ms:.0f}")
PY
}
server_measure() {  # server_measure VAR NAME DEF INPUT: median wall time of REPEAT runs
  local var=$1; shift
  local times=()
  for _ in $(seq "$REPEAT"); do times+=("$(server_run "$@")"); done
  printf -v "$var" '%s' "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
}
server_measure SRV_MAP_MS map.asl.json "$WORK/map.asl.json" "$WORK/map1000.json"
server_measure SRV_LOOP_MS loop.asl.json "$WORK/loop.asl.json" "$WORK/empty.json"
SRV_MAP_RATIO=$(ratio "$REF_MAP_MS" "$SRV_MAP_MS")
SRV_LOOP_RATIO=$(ratio "$REF_LOOP_MS" "$SRV_LOOP_MS")
echo "   Map 1,000: server $SRV_MAP_MS ms vs reference in memory $REF_MAP_MS ms: ${SRV_MAP_RATIO}x (goal >= 1x)"
echo "   loop 10,000: server $SRV_LOOP_MS ms vs reference in memory $REF_LOOP_MS ms: ${SRV_LOOP_RATIO}x (goal >= 1x)"

OUT=bench/out/asl-results-$(date +%Y%m%d-%H%M%S).md
{
  echo "ASL engine vs aws-local-stepfunctions $REF_VERSION (node $(node --version)), whole processes, $(nproc) cores"
  echo
  echo "| figure | sluice | aws-local-stepfunctions | ratio | goal |"
  echo "|---|---|---|---|---|"
  echo "| Map 1,000 x Pass: wall time | $SL_MAP_MS ms | $REF_MAP_MS ms | ${MAP_RATIO}x | >= 50x |"
  echo "| Map 1,000 x Pass: peak RSS | $SL_MAP_MB MB | $REF_MAP_MB MB | | |"
  echo "| loop 10,000 transitions: wall time | $SL_LOOP_MS ms | $REF_LOOP_MS ms | ${LOOP_RATIO}x | >= 50x |"
  echo "| loop 10,000 transitions: peak RSS | $SL_LOOP_MB MB | $REF_LOOP_MB MB | | |"
  echo "| Map 100,000 x Pass: wall time | $SL_BIG_MS ms | $REF_BIG_MS ms | ${BIG_RATIO}x | >= 10x |"
  echo "| Map 100,000 x Pass: peak RSS | $SL_BIG_MB MB | $REF_BIG_MB MB | | < 150 MB |"
  echo "| through the server, durable, POST to COMPLETE: Map 1,000 x Pass | $SRV_MAP_MS ms | $REF_MAP_MS ms (in memory) | ${SRV_MAP_RATIO}x | >= 1x |"
  echo "| through the server, durable, POST to COMPLETE: loop 10,000 transitions | $SRV_LOOP_MS ms | $REF_LOOP_MS ms (in memory) | ${SRV_LOOP_RATIO}x | >= 1x |"
} | tee "$OUT"
