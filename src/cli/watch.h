// Following a run until it ends: a ProgressSource yields successive snapshots of the run and
// its tasks; DiffSnapshots turns two snapshots into change lines; WatchRun prints them with
// a time stamp. Polling is one ProgressSource. `sluice watch` follows the run's Server-Sent
// Events stream (GET /api/v1/runs/{id}/events, WatchRunEvents) and polls only when the
// server has no such endpoint.
// Thread-safety: not thread-safe; used from one thread.
#pragma once

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/sse.h"
#include "cli/wes_client.h"
#include "common/status.h"

namespace sluice::cli {

struct TaskSnapshot {
  std::string label;  // the task's name, or its id if it has none
  std::string state;
};

struct RunSnapshot {
  std::string state;
  std::vector<std::string> task_order;        // task ids in the order first seen
  std::map<std::string, TaskSnapshot> tasks;  // by task id
};

class ProgressSource {
 public:
  virtual ~ProgressSource() = default;
  // The next snapshot; blocks until there may be news (the first call returns at once).
  virtual Result<RunSnapshot> Next() = 0;
};

// Polls /runs/{id}/status and /runs/{id}/tasks (all pages) every `interval`.
std::unique_ptr<ProgressSource> MakePollingSource(WesClient& client, std::string run_id,
                                                  std::chrono::milliseconds interval);

// The change lines between `prev` (null before the first snapshot) and `next`: one
// "<task label> <STATE>" per new or changed task in task order, then "run <STATE>" if the
// run's state changed.
std::vector<std::string> DiffSnapshots(const RunSnapshot* prev, const RunSnapshot& next);

// Prints "HH:MM:SS <change>" lines to `out` until the run is in a terminal state. Returns
// kExitOk if it ended COMPLETE, kExitRunNotComplete for another terminal state, or the exit
// code of the error that stopped it (printed by ReportError).
int WatchRun(ProgressSource& source, std::FILE* out);

// Applies one event of a run's SSE stream to `snap`: `snapshot` replaces it, TaskCreated/
// TaskStateChanged set a task's state, RunStateChanged the run's, `end` sets `final_state`.
// Returns false for an event it does not use (keep-alives, other types, bad data).
bool ApplyRunEvent(const SseEvent& event, RunSnapshot& snap, std::string& final_state);

// Follows the run's SSE stream, printing like WatchRun, reconnecting with Last-Event-ID when
// the connection drops. Returns nullopt, having printed nothing, if the server has no events
// endpoint (the caller then polls); otherwise WatchRun's exit code.
std::optional<int> WatchRunEvents(HttpClient& http, const std::string& run_id, std::FILE* out);

}  // namespace sluice::cli
