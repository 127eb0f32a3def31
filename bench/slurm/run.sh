#!/usr/bin/env bash
# Slurm executor figures, side by side on one single-node Slurm started for the run
# (scripts/slurm.sh, with 1,024 CPUs declared so 1,000 jobs run at once):
#   (a) a plain loop of `sbatch` calls vs (b) SlurmExecutor::Submit of the same jobs (after a
#       warm-up of the same number of sbatch calls; A-B, B-A, A-B, B-A; total time):
#       jobs/s each and the ratio (goal >= 0.8)
#   (c) 1,000 concurrent jobs tracked: squeue + sacct calls per second (goal <= 1)
# Usage: bench/slurm/run.sh [JOBS_PER_ROUND] [TRACKED]   (defaults 300, 1000).
# BUILD_DIR (default build-bench) is where slurm_bench is built. Results: stdout and
# bench/out/slurm.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
JOBS=${1:-300}
TRACKED=${2:-1000}
BUILD_DIR=${BUILD_DIR:-build-bench}
scripts/install-deps.sh test >/dev/null
if [[ ! -x $BUILD_DIR/bench/slurm_bench ]] || [[ ${SKIP_BUILD:-0} != 1 ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} \
    -DSLUICE_BUILD_TESTS=OFF -DSLUICE_BUILD_BENCH=ON >/dev/null
  cmake --build "$BUILD_DIR" --target slurm_bench -j"$(nproc)" >/dev/null
fi
mkdir -p bench/out
# On the repository's disk, like a data dir would be.
WORK=$(mktemp -d "$PWD/bench/out/slurm.XXXXXX")
cleanup() {
  scripts/slurm.sh stop "$WORK/slurm" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

SLURM_NODE_CPUS=1024 SLURM_KILL_WAIT=2 scripts/slurm.sh start "$WORK/slurm" >/dev/null
echo "== Slurm executor: $JOBS jobs x 4 rounds (A-B, B-A, A-B, B-A), then $TRACKED jobs tracked for 20 s"
"$BUILD_DIR/bench/slurm_bench" --slurm-conf "$WORK/slurm/slurm.conf" --work-dir "$WORK/jobs" \
  --jobs "$JOBS" --rounds 4 --concurrent "$TRACKED" --track-seconds 20 | tee bench/out/slurm.json
python3 - bench/out/slurm.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"(a) plain sbatch loop:        {r['plain_sbatch_jobs_per_s']:.1f} jobs/s")
print(f"(b) SlurmExecutor::Submit:    {r['executor_submit_jobs_per_s']:.1f} jobs/s"
      f"  ratio {r['submit_ratio']:.2f} (goal >= 0.8)")
print(f"    (Submit from 2 threads, as the scheduler's workers: "
      f"{r['executor_submit_2_threads_jobs_per_s']:.1f} jobs/s)")
print(f"(c) {r['tracked_jobs']} jobs tracked: {r['status_calls_per_s']:.2f} squeue+sacct calls/s"
      f" (goal <= 1); all {r['tracked_final_reported']} ends reported")
PY
