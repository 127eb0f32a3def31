// Compact storage of ended runs (migrations/0006_run_archive.sql). Once a run has ended and
// every one of its tasks has ended, its task and history rows (about 4.4 KB for 10 tasks and
// 44 events) are replaced by one blob in run_archive (about 0.5 KB): the rows varint-encoded
// with times as deltas (a history event's time usually as a reference to one of its task's
// times), then raw deflate with a preset dictionary. Reads decode the blob and serve exactly
// what the rows gave; the run is read-only from then on.
//
// Blob layout: byte 1 (format version), varint length of the encoded rows, raw deflate of:
//   varint task count, per task: seq delta, id, name, cmd (count, strings), launch_spec,
//   state, executor, executor_job_id, presence bits (exit_code, start, end), exit_code
//   (zigzag), created_at/start/end/updated_at (zigzag delta from the previous time written),
//   system_logs (count, strings);
//   varint event count, per event: seq delta, task (index + 1, 0 for run events), type code,
//   from, to, time (1..4: the task's created/start/end/updated time; 0: a zigzag delta from
//   the previous event's time follows), reason.
// Strings are a varint length then the bytes.
//
// Thread-safety: the encode/decode functions are pure; the Op functions run on the writer
// thread inside its transaction; the read functions take a connection the caller holds
// exclusively (a read-pool lease).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/run_store.h"
#include "store/sqlite/connection.h"

namespace sluice::store::sqlite {

// Runs with more tasks than this keep their rows (a blob is decoded whole on each read).
inline constexpr int kMaxArchivedTasks = 1000;

// runs.archived values.
inline constexpr int64_t kRunNotExamined = 0;
inline constexpr int64_t kRunArchived = 1;
inline constexpr int64_t kRunKeptAsRows = 2;

struct RunArchive {
  std::vector<TaskRecord> tasks;     // in seq order
  std::vector<HistoryEvent> events;  // in seq order; task_id "" for run events
};

// The blob of `archive`. An event's task_id must be "" or the id of one of the tasks; its type
// is stored as its history code (unknown names read back as "Unknown", as from the rows).
// kInvalidArgument if an event names a task not in the list.
Result<std::string> EncodeRunArchive(const RunArchive& archive);
// Inverse of EncodeRunArchive; run_id is filled in from `run_id`. kInternal if malformed.
Result<RunArchive> DecodeRunArchive(std::string_view blob, std::string_view run_id);

// Moves the run's tasks and history into run_archive and sets runs.archived = 1, if the run
// is terminal, not archived yet, and has at most kMaxArchivedTasks tasks, all terminal;
// otherwise (not terminal aside) marks it kept as rows (archived = 2). Returns true if it
// archived the run. Deleting history rows writes no outbox entry. kNotFound if no such run.
Result<bool> ArchiveRunOp(Connection& db, int64_t run_seq);

// What ArchiveEndedRunsOp walks: ?1 ended_before, ?2 limit. It repeats the runs_to_archive
// index's expression and WHERE clause and names the index: without statistics SQLite would
// rather take runs_by_state (state IN ...) and sort every ended run.
inline constexpr char kRunsToArchiveQuery[] =
    "SELECT seq FROM runs INDEXED BY runs_to_archive "
    "WHERE state >= 5 AND state <> 9 AND archived = 0 AND coalesce(end_time, updated_at) < ?1 "
    "ORDER BY coalesce(end_time, updated_at), seq LIMIT ?2";

// Examines up to `limit` ended runs not examined yet whose end (end_time, else updated_at) is
// before `ended_before`, oldest first (runs_to_archive index), with ArchiveRunOp; returns how
// many it archived.
Result<int> ArchiveEndedRunsOp(Connection& db, Micros ended_before, int limit);

// A run as the read paths resolve it.
struct RunRef {
  int64_t seq = 0;
  State state = State::kUnknown;
  bool archived = false;  // runs.archived == 1
};
Result<std::optional<RunRef>> FindRunRef(Connection& db, std::string_view run_id);

// Reads of an archived run (runs.archived == 1), with the semantics of the row-based reads.
// The task: kNotFound if the run has no such task.
Result<TaskRecord> GetArchivedTask(Connection& db, int64_t run_seq, std::string_view run_id,
                                   std::string_view task_id);
Result<TaskPage> ListArchivedTasks(Connection& db, int64_t run_seq, const TaskListQuery& query);
Result<HistoryPage> ListArchivedHistory(Connection& db, int64_t run_seq,
                                        const HistoryQuery& query);

// Appends a run-level event (UpdateTags on an ended run) to the run's archive, numbered after
// its last event. Returns false, changing nothing, if the run has no archive.
Result<bool> AppendArchivedEventOp(Connection& db, int64_t run_seq, HistoryEvent event);

// The state of task `task_id` in the run's archive; nullopt if the run has no archive or the
// archive no such task. For the writes on an archived run (CreateTask, TransitionTask).
Result<std::optional<State>> ArchivedTaskState(Connection& db, int64_t run_seq,
                                               std::string_view task_id);

}  // namespace sluice::store::sqlite
