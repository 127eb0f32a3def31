// RunStore: the durable home of runs, tasks and their history.
//
// The store speaks domain types; SQL lives only in the backend folders (sqlite/, later
// postgres/). Every backend passes the same conformance suite (testing/store_conformance.h).
//
// Contract shared by every method:
//  - Writes are durable when they return OK: the transaction has been committed with a
//    synced commit. Backends batch concurrent writers into one transaction (group commit),
//    so many callers share one fsync; a caller still only returns after its own data is
//    durable.
//  - Every state change of a run or a task writes the new current row and appends a history
//    event in the same transaction.
//  - States only move forward (common/state.h). A transition to the current state changes
//    nothing (idempotent); one that would move backwards or leave a terminal state returns
//    kFailedPrecondition and changes nothing.
//  - Lists are keyset-paginated; no call scans a whole table.
//
// Thread-safety: implementations are thread-safe; methods block the calling thread (never
// call them on an HTTP I/O thread for writes), except CreateRunAsync, which a backend may
// implement without blocking (SqliteRunStore does; the default does not).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/state.h"
#include "common/status.h"

namespace sluice::store {

using StringMap = std::map<std::string, std::string>;

// What the client asked for (the WES RunRequest), as submitted.
struct RunRequest {
  std::string workflow_type;
  std::string workflow_type_version;
  std::string workflow_url;
  std::string workflow_params = "{}";  // JSON object text
  std::string workflow_engine;
  std::string workflow_engine_version;
  StringMap workflow_engine_parameters;
  StringMap tags;
  // Relative paths of the files stored from workflow_attachment, under the run's directory.
  std::vector<std::string> attachments;

  friend bool operator==(const RunRequest&, const RunRequest&) = default;
};

struct RunRecord {
  std::string id;
  int64_t seq = 0;  // store-assigned, increasing with submission order
  RunRequest request;
  State state = State::kUnknown;
  Micros submitted_at = 0;
  Micros updated_at = 0;
  std::optional<Micros> start_time;
  std::optional<Micros> end_time;
  std::string outputs = "{}";  // JSON object text
  std::vector<std::string> system_logs;  // reasons worth showing (errors, cancel)
  std::string idempotency_key;
  std::string owner;  // replica driving the run ("" if none)
  Micros lease_until = 0;
};

struct RunStatusRow {
  std::string id;
  State state = State::kUnknown;
};

struct NewRun {
  std::string id;  // chosen by the caller (IdGenerator)
  RunRequest request;
  Micros submitted_at = 0;
  // Optional. A second CreateRun with the same key returns the first run's id with
  // created=false; if the request differs it returns kConflict.
  std::string idempotency_key;
};

struct CreateRunResult {
  std::string run_id;
  bool created = false;
};

struct RunTransition {
  std::string run_id;
  State to = State::kUnknown;
  std::string reason;  // stored in the history event
  Micros at = 0;
  // Compare-and-set: if present and the current state differs, returns kConflict.
  std::optional<State> expected_from;
  std::optional<Micros> start_time;  // set only if not set yet
  std::optional<Micros> end_time;    // set only if not set yet
  std::optional<std::string> outputs;  // JSON object text
  std::optional<std::string> system_log;  // appended to system_logs
};

struct TransitionOutcome {
  State from = State::kUnknown;
  bool changed = false;  // false when `to` was already the current state
};

struct TaskRecord {
  std::string run_id;
  std::string id;  // unique within the run, chosen by the driver (deterministic)
  int64_t seq = 0;  // store-assigned, increasing with creation order
  std::string name;
  std::vector<std::string> cmd;
  // How to launch it beyond cmd (environment, resources), as JSON text the scheduler writes
  // and reads back to submit the task again after a crash; "" when there is nothing more.
  std::string launch_spec;
  State state = State::kQueued;
  std::string executor;         // "local", ...
  std::string executor_job_id;  // "" until submitted
  std::optional<int> exit_code;
  std::optional<Micros> start_time;
  std::optional<Micros> end_time;
  std::vector<std::string> system_logs;
  Micros created_at = 0;
  Micros updated_at = 0;
};

struct TaskTransition {
  std::string run_id;
  std::string task_id;
  State to = State::kUnknown;
  std::string reason;
  Micros at = 0;
  // Fields filled in with the transition. On a same-state (no-op) transition they are still
  // filled in where the row has none yet, so a late event can add what an earlier one lacked.
  std::optional<std::string> executor_job_id;
  std::optional<int> exit_code;
  std::optional<Micros> start_time;
  std::optional<Micros> end_time;
  std::optional<std::string> system_log;  // appended
};

// One entry of a run's audit trail.
struct HistoryEvent {
  int64_t seq = 0;
  std::string run_id;
  std::string task_id;  // "" for run-level events
  std::string type;     // "RunStateChanged", "TaskStateChanged", "TaskCreated"
  State from = State::kUnknown;
  State to = State::kUnknown;
  Micros at = 0;
  std::string reason;
};

// Page size limits are enforced by callers; the store serves what it is asked for.
struct RunListQuery {
  int page_size = 20;
  std::optional<int64_t> before_seq;  // newest first: rows with seq < before_seq
};
struct RunPage {
  std::vector<RunRecord> runs;
  std::optional<int64_t> next_before_seq;  // absent on the last page
};

struct TaskListQuery {
  std::string run_id;
  int page_size = 100;
  std::optional<int64_t> after_seq;  // creation order: rows with seq > after_seq
};
struct TaskPage {
  std::vector<TaskRecord> tasks;
  std::optional<int64_t> next_after_seq;
};

struct HistoryQuery {
  std::string run_id;
  int page_size = 100;
  std::optional<int64_t> after_seq;
};
struct HistoryPage {
  std::vector<HistoryEvent> events;
  std::optional<int64_t> next_after_seq;
};

// One entry of a workflow engine's own log for a run (the ASL execution history:
// StateEntered, TaskScheduled, ...). The engine that drives the run writes them; entries
// marked `replay` are the inputs it feeds back into itself after a restart.
struct RunEvent {
  int64_t seq = 0;  // store-assigned per run: 1, 2, 3, ... in append order
  std::string type;
  Micros at = 0;
  std::string state_name;
  std::string scope;
  std::string details = "{}";  // JSON text
  bool replay = false;
};

enum class RunEventFilter { kAll, kReplayOnly, kHistoryOnly };

struct RunEventQuery {
  std::string run_id;
  int page_size = 100;
  std::optional<int64_t> after_seq;
  RunEventFilter filter = RunEventFilter::kAll;
};
struct RunEventPage {
  std::vector<RunEvent> events;
  std::optional<int64_t> next_after_seq;
};

struct ClaimRequest {
  std::string owner;
  Micros now = 0;
  Micros lease_until = 0;
  int limit = 100;
  // true: also return (and renew) runs `owner` holds already, as a restarted replica needs.
  // false: only runs that are unowned or whose lease expired, as a running replica asks for
  // more work without re-reading what it drives.
  bool include_owned = true;
};

class RunStore {
 public:
  virtual ~RunStore() = default;

  // Inserts the run in state QUEUED with its first history event. kConflict if the
  // idempotency key was used for a different request; kAlreadyExists if the id is taken.
  virtual Result<CreateRunResult> CreateRun(const NewRun& run) = 0;

  // CreateRun without holding the caller's thread: `done` is called exactly once, with what
  // CreateRun would have returned, only after the run is durable (or with the error). It may
  // be called on a store thread, or on the calling thread before this returns; it must not
  // block (it may hold up other writers). The default calls CreateRun, so it blocks: backends
  // that can do better (group commit) override it.
  virtual void CreateRunAsync(const NewRun& run,
                              std::function<void(Result<CreateRunResult>)> done) {
    done(CreateRun(run));
  }

  // kNotFound if no such run.
  virtual Result<RunRecord> GetRun(std::string_view run_id) = 0;
  // The id and state only: the hot path of GET /runs/{id}/status.
  virtual Result<RunStatusRow> GetRunStatus(std::string_view run_id) = 0;
  virtual Result<RunPage> ListRuns(const RunListQuery& query) = 0;
  // Number of runs in each state, from counts maintained on every write (no scan).
  virtual Result<std::map<State, int64_t>> CountRunsByState() = 0;

  // kNotFound, kFailedPrecondition (backwards), kConflict (expected_from mismatch).
  virtual Result<TransitionOutcome> TransitionRun(const RunTransition& t) = 0;

  // Creates the task (state as given, normally QUEUED) with a history event. Idempotent:
  // returns false, changing nothing, if a task with this id exists in the run. kNotFound if
  // the run does not exist; kFailedPrecondition if the run is terminal.
  virtual Result<bool> CreateTask(const TaskRecord& task) = 0;
  virtual Result<TaskRecord> GetTask(std::string_view run_id, std::string_view task_id) = 0;
  virtual Result<TaskPage> ListTasks(const TaskListQuery& query) = 0;
  // kNotFound, kFailedPrecondition (backwards or out of a terminal state).
  virtual Result<TransitionOutcome> TransitionTask(const TaskTransition& t) = 0;

  virtual Result<HistoryPage> ListHistory(const HistoryQuery& query) = 0;

  // Appends `events` (their seq is ignored) to the run's engine log in one transaction,
  // numbered after the last one; returns the seq of the last appended. kNotFound if no such
  // run.
  virtual Result<int64_t> AppendRunEvents(std::string_view run_id,
                                          const std::vector<RunEvent>& events) = 0;
  // The run's engine log in append order. kNotFound if no such run.
  virtual Result<RunEventPage> ListRunEvents(const RunEventQuery& query) = 0;

  // Takes (or renews) the lease on up to `limit` non-terminal runs that are unowned, owned
  // by `owner` already (only if req.include_owned), or whose lease expired before `now`,
  // oldest first. Returns them.
  virtual Result<std::vector<RunRecord>> ClaimRuns(const ClaimRequest& req) = 0;
  // Extends every lease `owner` holds on a non-terminal run.
  virtual Status RenewLeases(std::string_view owner, Micros lease_until) = 0;
};

}  // namespace sluice::store
