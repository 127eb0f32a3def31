// The SQLite store's task state, packed (migrations/0010_packed_task_state.sql): what changes
// as a task runs (state, executor job id, exit code, start and end time, system logs, update
// time) lives in `task_states`, one row per run and chunk of kTaskChunk tasks (by task seq),
// not in the task's own row, which keeps what never changes (id, name, command, executor,
// creation time, launch spec). A state sync batch of hundreds of task changes over a few dozen
// runs then rewrites a few dozen small rows instead of one wide row per event.
//
// Writers go through a TaskStateCache per write op: it reads a chunk once, the op changes its
// entries in memory and Flush writes each changed chunk once, inside the op. Readers combine
// the task rows with their chunks (ReadTaskRows, ReadTaskRow, ListStaleTaskRows).
//
// Thread-safety: a TaskStateCache belongs to one write op on the writer thread or one read;
// the functions use the connection they are given, which the caller holds exclusively.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "store/run_store.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/transition_rules.h"

namespace sluice::store::sqlite {

// Tasks per task_states row: task seq s is entry (s - 1) % kTaskChunk of chunk
// (s - 1) / kTaskChunk.
inline constexpr int64_t kTaskChunk = 64;

// A chunk's entries as stored: per entry (varints; strings length-prefixed): state, updated at
// (zigzag), executor job id, exit code, start time, end time (each 0 when absent, else its
// zigzag plus one), system logs (the JSON list text, "" when none).
std::string EncodeTaskChunk(const std::vector<StoredTaskState>& entries);
Result<std::vector<StoredTaskState>> DecodeTaskChunk(std::string_view bytes);

class TaskStateCache {
 public:
  // The state of task `task_seq` of run `run_seq`, read on first use; nullptr if the run's
  // chunk holds no entry for it. Valid until the next Find or Append.
  Result<StoredTaskState*> Find(Connection& db, int64_t run_seq, int64_t task_seq);
  // Marks the chunk holding task `task_seq` as changed (after changing what Find returned).
  void Changed(int64_t run_seq, int64_t task_seq);
  // Sets the state of a new task `task_seq` (its chunk's entries up to it are filled).
  Status Append(Connection& db, int64_t run_seq, int64_t task_seq, StoredTaskState state);
  // Writes every changed chunk.
  Status Flush(Connection& db);

 private:
  struct Chunk {
    std::vector<StoredTaskState> entries;
    bool changed = false;
  };
  Result<Chunk*> Load(Connection& db, int64_t run_seq, int64_t chunk);
  std::map<std::pair<int64_t, int64_t>, Chunk> chunks_;
};

// Task rows of run `run_seq` with seq > after_seq, in seq order, at most `limit`, their state
// filled in; run_id set to `run_id`.
Result<std::vector<TaskRecord>> ReadTaskRows(Connection& db, int64_t run_seq,
                                             std::string_view run_id, int64_t after_seq,
                                             int64_t limit);
// Task `task_id` of run `run_seq`; nullopt if there is none.
Result<std::optional<TaskRecord>> ReadTaskRow(Connection& db, int64_t run_seq,
                                              std::string_view run_id, std::string_view task_id);

// Submitted, unfinished tasks (an executor job id, a non-terminal state) of active runs not
// updated since `updated_before`, least recently updated first, at most `limit`.
Result<std::vector<TaskRecord>> ListStaleTaskRows(Connection& db, Micros updated_before, int limit);

// Migration 0010: fills `task_states` chunks from the state columns of the old task table
// (tasks_v9; the migration's SQL has rebuilt `tasks` without them), then drops it.
Status PackTaskStateMigration(Connection& db);

}  // namespace sluice::store::sqlite
