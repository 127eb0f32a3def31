#!/usr/bin/env python3
"""The arithmetic of bench/takeover/run.sh (which writes the files read here).

  summarize.py round ROUND_DIR WORK_DIR        one round: figures to ROUND_DIR/result.json
  summarize.py final WORK_DIR OUT GOAL TASKS TASK_SECONDS RUNS
                                               all rounds + the exactly-once check: OUT
Times are seconds after T0 (the kill -9 of the victim).
"""
import datetime
import json
import os
import re
import statistics
import sys

# spdlog's default pattern, the replicas run with TZ=UTC.
LOG_LINE = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\] \[[^\]]*\] \[info\] "
    r"run (\S+): re-attached task (\S+) \(job")
STATE_NAMES = {1: "QUEUED", 2: "INITIALIZING", 3: "RUNNING", 4: "PAUSED", 5: "COMPLETE",
               6: "EXECUTOR_ERROR", 7: "SYSTEM_ERROR", 8: "CANCELED", 9: "CANCELING",
               10: "PREEMPTED"}


def rows(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def stats(values):
    if not values:
        return None
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3),
            "max": round(max(values), 3)}


def round_figures(rd, work):
    t0 = int(open(os.path.join(rd, "t0_ns")).read()) / 1e9
    victim = open(os.path.join(rd, "victim")).read().strip()
    survivors = [s for s in open(os.path.join(rd, "survivors")).read().split() if s]
    runs = [r[0] for r in rows(os.path.join(rd, "runs"))]
    live = rows(os.path.join(rd, "live_tasks"))
    lease_min, lease_max = (int(x) for x in rows(os.path.join(rd, "leases"))[0])
    claimed = {r[0]: (int(r[1]) / 1000, r[2]) for r in rows(os.path.join(rd, "claimed"))}
    progressed = {r[0]: int(r[1]) / 1000 for r in rows(os.path.join(rd, "progressed"))}
    first = {r[0]: r[1:] for r in rows(os.path.join(rd, "first_events"))}

    # The survivors' "re-attached" lines after T0, first one per task.
    reattach = {}
    for s in survivors:
        path = os.path.join(work, s + ".err")
        if not os.path.exists(path):
            continue
        for line in open(path, errors="replace"):
            m = LOG_LINE.match(line)
            if not m:
                continue
            at = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            if at < t0:
                continue
            reattach.setdefault((m.group(2), m.group(3)), (at - t0, s))
    live_by_run = {}
    for run_id, task_id in live:
        live_by_run.setdefault(run_id, []).append(task_id)
    per_run = []
    missing = []
    for run_id in runs:
        entry = {"run_id": run_id, "claimed_s": claimed[run_id][0], "by": claimed[run_id][1],
                 "progress_s": progressed.get(run_id), "live_tasks": len(live_by_run.get(run_id, []))}
        times = []
        for task_id in live_by_run.get(run_id, []):
            hit = reattach.get((run_id, task_id))
            if hit is None:
                missing.append(f"{run_id}/{task_id}")
            else:
                times.append(hit[0])
        if times:
            entry["reattached_s"] = round(max(times), 3)
        ev = first.get(run_id)
        if ev:
            task_id, to_state, at, end_time = ev[0], int(ev[1]), int(ev[2]), int(ev[3])
            entry["first_event"] = f"task {task_id} -> {STATE_NAMES.get(to_state, to_state)}"
            entry["first_event_at_s"] = round(at / 1e6 - t0, 3)
            if end_time > 0 and to_state in (5, 6, 7, 8, 10):
                # Recorded this long after the task really ended (it ended in the outage,
                # or while the survivor was watching it).
                entry["task_end_s"] = round(end_time / 1e6 - t0, 3)
                entry["lag_s"] = round((at - end_time) / 1e6, 3)
        per_run.append(entry)

    claimed_s = [e["claimed_s"] for e in per_run]
    reattached_s = [e["reattached_s"] for e in per_run if "reattached_s" in e]
    progress_s = [e["progress_s"] for e in per_run if e["progress_s"] is not None]
    lags = [e["lag_s"] for e in per_run if "lag_s" in e]
    # Tasks that ended after their run was claimed: the survivor was watching them.
    watched_lags = [e["lag_s"] for e in per_run
                    if "lag_s" in e and e["task_end_s"] > e["claimed_s"]]
    res = {
        "victim": victim,
        "survivors": survivors,
        "runs": len(runs),
        "live_tasks_at_kill": len(live),
        "lease_left_at_kill_s": {"min": round(lease_min / 1e6 - t0, 3),
                                 "max": round(lease_max / 1e6 - t0, 3)},
        "claimed_s": stats(claimed_s),
        "claimed_after_lease_expiry_s": round(max(claimed_s) - (lease_max / 1e6 - t0), 3),
        "reattached_s": stats(reattached_s),
        "reattach_missing": missing,
        "progress_s": stats(progress_s),
        "progress_lag_s": stats(lags),
        "progress_lag_watched_s": stats(watched_lags),
        "per_run": per_run,
    }
    with open(os.path.join(rd, "result.json"), "w") as f:
        json.dump(res, f, indent=1)
    takeover = max(claimed_s)
    ra = max(reattached_s) if reattached_s else float("nan")
    lag = max(lags) if lags else float("nan")
    print(f"   leases left at kill {res['lease_left_at_kill_s']['max']:.2f}s; all claimed "
          f"{takeover:.2f}s (median {statistics.median(claimed_s):.2f}), re-attached "
          f"{ra:.2f}s ({len(live) - len(missing)}/{len(live)} live tasks), first progress "
          f"median {statistics.median(progress_s):.2f}s max {max(progress_s):.2f}s "
          f"(lag after task end <= {lag:.2f}s)")
    if missing:
        print(f"   WARNING: no re-attach logged for {len(missing)} live tasks: "
              f"{', '.join(missing[:5])}", file=sys.stderr)
    return 0


def final(work, out, goal, tasks, task_seconds, runs_per_round):
    rounds = []
    base = os.path.join(work, "rounds")
    for name in sorted(os.listdir(base), key=int):
        with open(os.path.join(base, name, "result.json")) as f:
            rounds.append(json.load(f))
    problems = []
    final_runs = rows(os.path.join(work, "final_runs"))
    not_complete = [r[0] for r in final_runs if int(r[1]) != 5]
    if not_complete:
        problems.append(f"{len(not_complete)} runs did not end COMPLETE: {not_complete[:5]}")
    tasks_by_run = {}
    for run_id, task_id, state, exit_code in rows(os.path.join(work, "final_tasks")):
        tasks_by_run.setdefault(run_id, []).append((task_id, int(state), int(exit_code)))
    reruns = []
    for run_id, _, _ in final_runs:
        ts = tasks_by_run.get(run_id, [])
        if len(ts) != tasks:
            problems.append(f"run {run_id} has {len(ts)} tasks, not {tasks}")
        for task_id, state, exit_code in ts:
            if state != 5 or exit_code != 0:
                problems.append(f"task {run_id}/{task_id}: state {state}, exit {exit_code}")
            path = os.path.join(work, "data", "runs", run_id, "tasks", task_id, "stdout")
            try:
                n = sum(1 for line in open(path, errors="replace") if "working for" in line)
            except OSError:
                n = 0
            if n != 1:
                reruns.append(f"{run_id}/{task_id} ran {n} times")
    problems += reruns
    missing = sum(len(r["reattach_missing"]) for r in rounds)
    if missing:
        problems.append(f"{missing} live tasks were never logged as re-attached")

    def over_rounds(key):
        vals = [r[key]["max"] for r in rounds if r.get(key)]
        return {"per_round_max": vals, "median": round(statistics.median(vals), 3),
                "max": round(max(vals), 3)} if vals else None

    claimed = over_rounds("claimed_s")
    reattached = over_rounds("reattached_s")
    progress = over_rounds("progress_s")
    lag = over_rounds("progress_lag_s")
    worst = max(claimed["max"], reattached["max"] if reattached else 0)
    result = {
        "figure": "replica killed with -9: its runs claimed by a survivor and their live tasks "
                  "re-attached (seconds after the kill; each round's figure is its slowest run)",
        "goal_s": goal,
        "meets_goal": worst < goal,
        "lease_seconds": 10,
        "config": {"replicas": 3, "rounds": len(rounds), "runs_per_round": runs_per_round,
                   "tasks_per_run": tasks, "parallelism": 2, "task_seconds": task_seconds},
        "claimed_s": claimed,
        "reattached_s": reattached,
        "first_progress_s": progress,
        "progress_lag_s": lag,
        "meaning": {
            "claimed_s": "T0 (kill -9) until every unfinished run of the victim has a surviving "
                         "owner (runs.owner, polled every ~50 ms)",
            "reattached_s": "T0 until a survivor logged 're-attached task' for every task of "
                            "those runs that was live at T0 (it watches the task again)",
            "first_progress_s": "T0 until every one of those runs has a new task state recorded "
                                "by a survivor; bounded below by the tasks' own length",
            "progress_lag_s": "history.at - task end_time for that first event: how long after "
                              "a task really ended its end was recorded",
            "lease_left_at_kill_s": "the victim's lease_until - T0 (detection cannot be earlier)",
        },
        "all_runs_complete_exactly_once": not problems,
        "problems": problems,
        "rounds": rounds,
    }
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"== takeover with the default lease (10 s), {len(rounds)} rounds, "
          f"{sum(r['runs'] for r in rounds)} runs of killed replicas "
          f"({sum(r['live_tasks_at_kill'] for r in rounds)} live tasks)")
    print(f"   claimed by a survivor:   median {claimed['median']:.2f} s, max {claimed['max']:.2f} s"
          f"  (per round {', '.join(f'{v:.2f}' for v in claimed['per_round_max'])})")
    if reattached:
        print(f"   live tasks re-attached:  median {reattached['median']:.2f} s, max "
              f"{reattached['max']:.2f} s")
    print(f"   first progress recorded: median {progress['median']:.2f} s, max "
          f"{progress['max']:.2f} s (bounded by {task_seconds}s tasks; lag after task end "
          f"<= {lag['max'] if lag else float('nan'):.2f} s)")
    print(f"   goal < {goal} s: {'met' if worst < goal else 'NOT met'} (worst {worst:.2f} s); "
          f"all runs COMPLETE, every task once: {'yes' if not problems else 'NO'}")
    print(f"   written to {out}")
    if problems:
        for p in problems[:10]:
            print(f"FAIL: {p}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "round":
        sys.exit(round_figures(sys.argv[2], sys.argv[3]))
    sys.exit(final(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]),
                   sys.argv[6], int(sys.argv[7])))
