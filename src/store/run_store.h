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
//  - A run whose tasks and history were moved to compact storage (ArchiveEndedRuns) reads
//    back exactly as before, but its tasks are read-only (UpdateTags still works and adds its
//    TagsChanged event to the history): CreateTask returns false for a task it has and
//    kFailedPrecondition otherwise (the run is terminal); TransitionTask to a task's current
//    state returns changed=false and fills nothing in (the fields a same-state transition
//    would add are dropped), to any other state kFailedPrecondition as for a terminal task.
//
// Thread-safety: implementations are thread-safe; methods block the calling thread (never
// call them on an HTTP I/O thread for writes), except CreateRunAsync, which a backend may
// implement without blocking (SqliteRunStore does; the default does not).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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
  // The submitting principal, fixed at submission: the authenticated user once
  // authentication exists, until then the `user` tag or "anonymous".
  std::string user;
  // The run's `name` tag ("" if none); follows tag changes (UpdateTags).
  std::string name;
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
  std::string user = "anonymous";  // see RunRecord::user
  // Optional. A second CreateRun with the same key returns the first run's id with
  // created=false; if the request differs it returns kConflict.
  std::string idempotency_key;
};

struct CreateRunResult {
  std::string run_id;
  bool created = false;
};

// A finished run's consumption, summed over its tasks by the caller (the scheduler knows
// each task's resources; the store does not interpret launch_spec).
struct RunUsage {
  int64_t tasks = 0;
  int64_t tasks_failed = 0;               // tasks that ended in a state other than COMPLETE
  std::vector<double> task_seconds;       // each ended task's duration (end - start)
  double cpu_seconds = 0;                 // sum over tasks of cpus x duration
  double memory_gb_seconds = 0;           // sum over tasks of memory (GB) x duration
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
  // What the run consumed, given with the transition to a terminal state: added to the
  // stats roll-ups (QueryStats) in the same transaction. Absent: nothing consumed (a run
  // canceled while QUEUED).
  std::optional<RunUsage> usage;
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
  // "RunStateChanged", "TaskStateChanged", "TaskCreated", "TagsChanged" (reason: the
  // change, e.g. `set project=x; removed stage`)
  std::string type;
  State from = State::kUnknown;
  State to = State::kUnknown;
  Micros at = 0;
  std::string reason;
};

// Which runs a list or a count is about. Every filter given must hold (AND).
struct RunFilter {
  std::vector<State> states;  // any of these; empty: any state
  std::string user;           // the submitting principal (RunRecord::user); "": anyone
  // Every (key, value) must be a tag of the run (WES `tags`, as they are now).
  std::vector<std::pair<std::string, std::string>> tags;
  std::string workflow_type;               // "": any
  std::optional<Micros> submitted_after;   // submitted_at >= this
  std::optional<Micros> submitted_before;  // submitted_at < this
  std::string name_prefix;                 // RunRecord::name starts with this; "": any

  bool empty() const {
    return states.empty() && user.empty() && tags.empty() && workflow_type.empty() &&
           !submitted_after && !submitted_before && name_prefix.empty();
  }
};

// Submission order is seq order (seq increases with submission), so kSubmitted* sort by seq.
enum class RunSort { kSubmittedDesc, kSubmittedAsc, kUpdatedDesc, kUpdatedAsc };

// A keyset position: the last row of the previous page. `key` is that row's updated_at for
// the kUpdated* sorts and unused (0) for kSubmitted*. Rows added after a page was served
// never shift later pages of a kSubmittedDesc listing (they sort before the cursor).
struct RunCursor {
  Micros key = 0;
  int64_t seq = 0;
  friend bool operator==(const RunCursor&, const RunCursor&) = default;
};

// Page size limits are enforced by callers; the store serves what it is asked for. Every
// filter combination is served by an index (SQLite: tested with EXPLAIN QUERY PLAN).
struct RunListQuery {
  int page_size = 20;
  RunFilter filter;
  RunSort sort = RunSort::kSubmittedDesc;
  std::optional<RunCursor> after;  // absent: the first page
  // true: the rows need only the fields of a listing (id, seq, state, user, name,
  // request.workflow_type, request.tags, submitted_at, updated_at, start_time, end_time);
  // a backend may leave the others at their defaults (SQLite does: it reads less per row).
  bool summary = false;
};
// An unfiltered page, newest first, after `after` (the first page if absent).
inline RunListQuery RunsPage(int page_size, std::optional<RunCursor> after = std::nullopt) {
  RunListQuery q;
  q.page_size = page_size;
  q.after = after;
  return q;
}

struct RunPage {
  std::vector<RunRecord> runs;
  std::optional<RunCursor> next;  // absent on the last page
};

// How many runs match a filter, from counts maintained on every write (never by counting
// rows). Exact when the filter is empty or has states plus at most one of {user,
// workflow_type, one tag}; otherwise an estimate from the maintained counts (exact=false).
struct RunCount {
  int64_t count = 0;
  bool exact = true;
};

// An estimate of how many runs match several filter dimensions at once (user, workflow
// type, tags), from each one's exact count (`dim_counts`, already restricted to the filter's
// states) among `base` runs in those states, times `share` (the fraction a range filter
// keeps): the product of their shares, as if independent, but never more than the smallest
// of them, since a run matching all matches each.
inline int64_t EstimateMatchingRuns(int64_t base, const std::vector<int64_t>& dim_counts,
                                    double share = 1.0) {
  if (base <= 0) return 0;
  double estimate = static_cast<double>(base) * share;
  int64_t bound = base;
  for (int64_t n : dim_counts) {
    estimate *= static_cast<double>(n) / static_cast<double>(base);
    bound = std::min(bound, n);
  }
  return std::min(bound, static_cast<int64_t>(estimate + 0.5));
}

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

// One entry of the outbox: every history event (run and task state changes, task creation,
// tag changes) and every run deletion, written in the same transaction as the change, in one
// global order. Subscribers (SSE) are fed from it; it is pruned by age, so `seq` is never
// reused and a reader that falls behind the oldest kept entry can tell (OutboxBounds).
struct ChangeEvent {
  int64_t seq = 0;          // global, increasing with commit order
  std::string run_id;
  std::string task_id;      // "" for run-level events
  std::string type;         // HistoryEvent::type, or "RunDeleted"
  State from = State::kUnknown;
  State to = State::kUnknown;
  Micros at = 0;
  std::string reason;
  // The run as it is when read (empty/unknown once the run is deleted): for filters.
  State run_state = State::kUnknown;
  std::string user;
  std::string workflow_type;
  StringMap tags;
};

struct OutboxBounds {
  int64_t oldest_seq = 0;  // the oldest entry still kept (0: the outbox is empty)
  int64_t last_seq = 0;    // the newest entry ever written (0: none yet)
};

// Runs whose end_time is before `ended_before`, in (end_time, seq) order after `after`: what
// the retention sweeper examines.
struct EndedRunQuery {
  Micros ended_before = 0;
  std::optional<RunCursor> after;  // key = end_time
  int limit = 100;
};
struct EndedRun {
  std::string id;
  int64_t seq = 0;
  Micros end_time = 0;
  std::string workflow_type;
  StringMap tags;
};

enum class StatsGroupBy { kDay, kUser, kTag, kWorkflowType };

// Roll-ups are kept per UTC day of the run's end, so `from`/`to` select whole days: every
// day that overlaps [from, to).
struct StatsQuery {
  Micros from = 0;
  Micros to = 0;
  StatsGroupBy group_by = StatsGroupBy::kDay;
  std::string tag_key;  // for kTag: group by this tag's value (runs without it are left out)
};

struct DurationSummary {
  int64_t count = 0;
  double p50_seconds = 0;  // from a log-bucketed histogram: within ~5% of the true value
  double p95_seconds = 0;
};

struct StatsGroup {
  std::string key;  // "2026-11-30", the user, the tag value or the workflow type
  std::map<State, int64_t> runs_by_state;  // terminal states only
  int64_t runs = 0;
  int64_t tasks = 0;
  int64_t tasks_failed = 0;
  DurationSummary run_duration;
  DurationSummary task_duration;
  double cpu_seconds = 0;
  double memory_gb_seconds = 0;
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
  // From maintained counts; see RunCount.
  virtual Result<RunCount> CountRuns(const RunFilter& filter) = 0;
  // Number of runs in each state, from counts maintained on every write (no scan).
  virtual Result<std::map<State, int64_t>> CountRunsByState() = 0;

  // Sets the tags in `set` and removes those named in `remove` (absent ones are ignored), with
  // a TagsChanged history event; returns the run as it is after. RunRecord::name follows the
  // `name` tag; RunRecord::user does not change. kNotFound if no such run.
  virtual Result<RunRecord> UpdateTags(std::string_view run_id, const StringMap& set,
                                       const std::vector<std::string>& remove, Micros at) = 0;

  // Deletes an ended run with its tasks, history, engine log and tags, and writes a
  // RunDeleted outbox entry; the stats roll-ups keep it. Files are the caller's. kNotFound;
  // kFailedPrecondition if the run has not ended.
  virtual Status DeleteRun(std::string_view run_id) = 0;
  virtual Result<std::vector<EndedRun>> ListEndedRuns(const EndedRunQuery& query) = 0;

  // Moves the tasks and history of up to `limit` runs that ended (end_time, else updated_at)
  // before `ended_before` and whose tasks have all ended into compact storage, oldest first;
  // returns how many it moved. Transparent to every read (GetTask, ListTasks, ListHistory,
  // runs, counts, stats); the run's tasks become read-only (see the contract above). Runs it cannot
  // move (more than 1,000 tasks, a task not ended) keep their rows and are not examined again.
  // A backend may keep rows as they are and return 0 (the default).
  virtual Result<int> ArchiveEndedRuns(Micros ended_before, int limit) {
    (void)ended_before;
    (void)limit;
    return 0;
  }

  virtual Result<std::vector<StatsGroup>> QueryStats(const StatsQuery& query) = 0;

  // The outbox (see ChangeEvent): entries with seq > after_seq, oldest first.
  virtual Result<std::vector<ChangeEvent>> ReadOutbox(int64_t after_seq, int limit) = 0;
  virtual Result<OutboxBounds> GetOutboxBounds() = 0;
  // Deletes up to `limit` entries written before `before`; returns how many it deleted.
  virtual Result<int64_t> PruneOutbox(Micros before, int limit) = 0;

  // kNotFound, kFailedPrecondition (backwards), kConflict (expected_from mismatch).
  virtual Result<TransitionOutcome> TransitionRun(const RunTransition& t) = 0;

  // Creates the task (state as given, normally QUEUED) with a history event. Idempotent:
  // returns false, changing nothing, if a task with this id exists in the run. kNotFound if
  // the run does not exist; kFailedPrecondition if the run is terminal. (CreateTasks of one.)
  Result<bool> CreateTask(const TaskRecord& task) {
    ASSIGN_OR_RETURN(std::vector<bool> created, CreateTasks({task}));
    return static_cast<bool>(created.front());
  }
  // Creates several tasks (a scheduler turn's) in one transaction, each as CreateTask would,
  // in order: entry i tells whether tasks[i] was created (false: a task with its id existed,
  // or came earlier in `tasks`). All or nothing: the first refusal (kInvalidArgument,
  // kNotFound, kFailedPrecondition) or storage error fails the call and creates none.
  virtual Result<std::vector<bool>> CreateTasks(const std::vector<TaskRecord>& tasks) = 0;
  virtual Result<TaskRecord> GetTask(std::string_view run_id, std::string_view task_id) = 0;
  virtual Result<TaskPage> ListTasks(const TaskListQuery& query) = 0;
  // kNotFound, kFailedPrecondition (backwards or out of a terminal state).
  virtual Result<TransitionOutcome> TransitionTask(const TaskTransition& t) = 0;
  // State sync's batch: applies each transition as TransitionTask would, all in one
  // transaction; result i is what TransitionTask(ts[i]) would have returned (an error for
  // one entry does not stop the others). Applied in order, so two entries for one task
  // behave as two calls.
  virtual std::vector<Result<TransitionOutcome>> TransitionTasks(
      const std::vector<TaskTransition>& ts) = 0;
  // The same without waiting: `done` gets the results once they are durable, and calls
  // complete in the order they were made, so a caller can queue the next batch while one is
  // being made durable. `done` may run on a store thread and must be quick; it gets the
  // transitions back (moved, not copied) with their results. By default the batch is applied
  // on the calling thread, as TransitionTasks.
  using TransitionsDone =
      std::function<void(std::vector<TaskTransition>, std::vector<Result<TransitionOutcome>>)>;
  virtual void TransitionTasksAsync(std::vector<TaskTransition> ts, TransitionsDone done) {
    std::vector<Result<TransitionOutcome>> results = TransitionTasks(ts);
    done(std::move(ts), std::move(results));
  }
  // Submitted tasks (with a job id) that have not ended and whose last change is before
  // `updated_before`, least recently updated first: what the reconciler asks executors about.
  virtual Result<std::vector<TaskRecord>> ListStaleTasks(Micros updated_before, int limit) = 0;

  virtual Result<HistoryPage> ListHistory(const HistoryQuery& query) = 0;

  // Appends `events` (their seq is ignored) to the run's engine log in one transaction,
  // numbered after the last one; returns the seq of the last appended. kNotFound if no such
  // run.
  virtual Result<int64_t> AppendRunEvents(std::string_view run_id,
                                          const std::vector<RunEvent>& events) = 0;
  // The run's engine log in append order. kNotFound if no such run.
  virtual Result<RunEventPage> ListRunEvents(const RunEventQuery& query) = 0;

  // Called after each commit that added outbox entries (from a store thread; it must not
  // block), and, where the backend can tell, after such commits by other processes sharing
  // the store (PostgreSQL: NOTIFY). Set once, before any write; nullptr clears it.
  virtual void SetOutboxListener(std::function<void()> listener) = 0;

  // Takes (or renews) the lease on up to `limit` non-terminal runs that are unowned, owned
  // by `owner` already (only if req.include_owned), or whose lease expired before `now`,
  // oldest first. Returns them.
  virtual Result<std::vector<RunRecord>> ClaimRuns(const ClaimRequest& req) = 0;
  // Extends every lease `owner` holds on a non-terminal run.
  virtual Status RenewLeases(std::string_view owner, Micros lease_until) = 0;
};

}  // namespace sluice::store
