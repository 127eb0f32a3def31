#!/usr/bin/env python3
"""Event-to-visible latency of a running Sluice server.

An executor event's time is when the task really ended: the task wrapper writes it (in
microseconds) to <data dir>/runs/<run>/tasks/<task>/exit_code as it exits. From there:
  sse:    the task's COMPLETE event arrives on GET /api/v1/events (SSE);
  status: the run's COMPLETE is visible in GET /ga4gh/wes/v1/runs/{id}/status (polled in a
          tight loop, one run at a time).
Both use the machine's real-time clock, as the wrapper does. Prints one JSON object with
p50/p99/max in milliseconds for each.

  event_latency.py --url http://127.0.0.1:PORT --data-dir DIR [--runs 400] [--rate 40]
                   [--status-runs 400]  (a p99 of 100 samples is their second largest)
"""
import argparse
import http.client
import json
import os
import threading
import time
import urllib.parse

RUN = {"workflow_type": "MOCK", "workflow_type_version": "1.0", "workflow_url": "mock://latency",
       "workflow_params": {"tasks": 1, "task_seconds": 0}}


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(p * (len(v) - 1)))], 3)


def summary(values):
    return {"n": len(values), "p50_ms": pct(values, 0.5), "p99_ms": pct(values, 0.99),
            "max_ms": round(max(values), 3) if values else None}


def end_time(data_dir, run_id, task_id):
    path = os.path.join(data_dir, "runs", run_id, "tasks", task_id, "exit_code")
    for _ in range(2000):
        try:
            with open(path) as f:
                return json.load(f)["end_time"] / 1e6
        except (OSError, ValueError):
            time.sleep(0.001)
    raise SystemExit(f"no exit_code for {run_id}/{task_id}")


class SseReader(threading.Thread):
    """Records when each task's COMPLETE event arrives."""

    def __init__(self, host, port):
        super().__init__(daemon=True)
        self.conn = http.client.HTTPConnection(host, port)
        self.conn.request("GET", "/api/v1/events?state=COMPLETE",
                          headers={"Accept": "text/event-stream"})
        self.resp = self.conn.getresponse()
        if self.resp.status != 200:
            raise SystemExit(f"GET /api/v1/events: HTTP {self.resp.status}")
        self.seen = {}
        self.lock = threading.Lock()

    def run(self):
        data = []
        while True:
            line = self.resp.fp.readline()
            if not line:
                return
            now = time.time()
            line = line.decode().rstrip("\r\n")
            if line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "" and data:
                event = json.loads("\n".join(data))
                data = []
                if event.get("task_id"):
                    with self.lock:
                        self.seen[(event["run_id"], event["task_id"])] = now


def submit(conn):
    conn.request("POST", "/ga4gh/wes/v1/runs", body=json.dumps(RUN),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise SystemExit(f"POST /runs: HTTP {resp.status}: {body!r}")
    return json.loads(body)["run_id"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--rate", type=float, default=40, help="submissions per second")
    ap.add_argument("--status-runs", type=int, default=400)
    args = ap.parse_args()
    u = urllib.parse.urlparse(args.url)

    sse = SseReader(u.hostname, u.port)
    sse.start()
    conn = http.client.HTTPConnection(u.hostname, u.port)
    run_ids = []
    start = time.monotonic()
    for i in range(args.runs):
        due = start + i / args.rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        run_ids.append(submit(conn))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with sse.lock:
            if all((r, "task-1") in sse.seen for r in run_ids):
                break
        time.sleep(0.05)
    sse_ms = []
    with sse.lock:
        seen = dict(sse.seen)
    for r in run_ids:
        if (r, "task-1") in seen:
            sse_ms.append((seen[(r, "task-1")] - end_time(args.data_dir, r, "task-1")) * 1e3)

    status_ms = []
    for _ in range(args.status_runs):
        r = submit(conn)
        while True:
            conn.request("GET", f"/ga4gh/wes/v1/runs/{r}/status")
            resp = conn.getresponse()
            state = json.loads(resp.read())["state"]
            if state == "COMPLETE":
                now = time.time()
                break
            if state not in ("QUEUED", "INITIALIZING", "RUNNING"):
                raise SystemExit(f"run {r} ended {state}")
        status_ms.append((now - end_time(args.data_dir, r, "task-1")) * 1e3)
    print(json.dumps({"sse": summary(sse_ms), "status": summary(status_ms),
                      "sse_missing": len(run_ids) - len(sse_ms)}))


if __name__ == "__main__":
    main()
