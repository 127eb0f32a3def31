#include "store/sqlite/task_state_ops.h"

#include <algorithm>
#include <string>
#include <tuple>
#include <utility>

#include "store/sqlite/row_codec.h"
#include "store/sqlite/statements.h"
#include "store/varint.h"

namespace sluice::store::sqlite {
namespace {

void PutOptional(std::string& out, std::optional<int64_t> v) {
  PutVarint(out, v.has_value() ? ZigZag(*v) + 1 : 0);
}
bool GetOptional(std::string_view& in, std::optional<int64_t>* v) {
  uint64_t u = 0;
  if (!GetVarint(in, &u)) return false;
  if (u == 0) {
    v->reset();
  } else {
    *v = UnZigZag(u - 1);
  }
  return true;
}

int64_t ChunkOf(int64_t task_seq) { return (task_seq - 1) / kTaskChunk; }
size_t SlotOf(int64_t task_seq) { return static_cast<size_t>((task_seq - 1) % kTaskChunk); }

// Fills the state fields of `task` from `s`.
Status Fill(TaskRecord& task, const StoredTaskState& s) {
  task.state = s.state;
  task.executor_job_id = s.executor_job_id;
  if (s.exit_code.has_value()) {
    task.exit_code = static_cast<int>(*s.exit_code);
  } else {
    task.exit_code.reset();
  }
  task.start_time = s.start_time;
  task.end_time = s.end_time;
  ASSIGN_OR_RETURN(task.system_logs, DecodeStringList(s.system_logs, "tasks.system_logs"));
  task.updated_at = s.updated_at;
  return Status::Ok();
}

Status MissingState(int64_t run_seq, int64_t task_seq) {
  return Internal("task " + std::to_string(task_seq) + " of run " + std::to_string(run_seq) +
                  " has no state entry");
}

}  // namespace

std::string EncodeTaskChunk(const std::vector<StoredTaskState>& entries) {
  std::string out;
  for (const StoredTaskState& e : entries) {
    PutVarint(out, static_cast<uint64_t>(e.state));
    PutVarint(out, ZigZag(e.updated_at));
    PutString(out, e.executor_job_id);
    PutOptional(out, e.exit_code);
    PutOptional(out, e.start_time);
    PutOptional(out, e.end_time);
    PutString(out, e.system_logs);
  }
  return out;
}

Result<std::vector<StoredTaskState>> DecodeTaskChunk(std::string_view in) {
  std::vector<StoredTaskState> entries;
  while (!in.empty()) {
    StoredTaskState e;
    uint64_t state = 0, updated_at = 0;
    if (!GetVarint(in, &state) || !GetVarint(in, &updated_at) ||
        !GetString(in, &e.executor_job_id) || !GetOptional(in, &e.exit_code) ||
        !GetOptional(in, &e.start_time) || !GetOptional(in, &e.end_time) ||
        !GetString(in, &e.system_logs)) {
      return Internal("a task_states row is corrupt");
    }
    e.state = StateFromColumn(static_cast<int64_t>(state));
    e.updated_at = UnZigZag(updated_at);
    entries.push_back(std::move(e));
  }
  return entries;
}

Result<TaskStateCache::Chunk*> TaskStateCache::Load(Connection& db, int64_t run_seq,
                                                    int64_t chunk) {
  auto key = std::make_pair(run_seq, chunk);
  auto it = chunks_.find(key);
  if (it != chunks_.end()) return &it->second;
  ASSIGN_OR_RETURN(Stmt read, db.Prepare(sql::kReadTaskChunk));
  RETURN_IF_ERROR(read.BindInt(1, run_seq));
  RETURN_IF_ERROR(read.BindInt(2, chunk));
  ASSIGN_OR_RETURN(bool row, read.Step());
  Chunk c;
  if (row) {
    ASSIGN_OR_RETURN(c.entries, DecodeTaskChunk(read.ColumnBlob(0)));
  }
  return &chunks_.emplace(key, std::move(c)).first->second;
}

Result<StoredTaskState*> TaskStateCache::Find(Connection& db, int64_t run_seq, int64_t task_seq) {
  ASSIGN_OR_RETURN(Chunk * c, Load(db, run_seq, ChunkOf(task_seq)));
  size_t slot = SlotOf(task_seq);
  if (slot >= c->entries.size()) return static_cast<StoredTaskState*>(nullptr);
  return &c->entries[slot];
}

void TaskStateCache::Changed(int64_t run_seq, int64_t task_seq) {
  auto it = chunks_.find(std::make_pair(run_seq, ChunkOf(task_seq)));
  if (it != chunks_.end()) it->second.changed = true;
}

Status TaskStateCache::Append(Connection& db, int64_t run_seq, int64_t task_seq,
                              StoredTaskState state) {
  ASSIGN_OR_RETURN(Chunk * c, Load(db, run_seq, ChunkOf(task_seq)));
  size_t slot = SlotOf(task_seq);
  // Seqs are handed out in order, so the new task's entry is the next one; entries of seqs
  // without a task row (none are expected) would stay kUnknown and be ignored.
  if (c->entries.size() <= slot) c->entries.resize(slot + 1);
  c->entries[slot] = std::move(state);
  c->changed = true;
  return Status::Ok();
}

Status TaskStateCache::Flush(Connection& db) {
  for (auto& [key, c] : chunks_) {
    if (!c.changed) continue;
    ASSIGN_OR_RETURN(Stmt put, db.Prepare(sql::kPutTaskChunk));
    RETURN_IF_ERROR(put.BindInt(1, key.first));
    RETURN_IF_ERROR(put.BindInt(2, key.second));
    RETURN_IF_ERROR(put.BindBlobOrNull(3, EncodeTaskChunk(c.entries)));
    RETURN_IF_ERROR(put.Run());
    c.changed = false;
  }
  return Status::Ok();
}

Result<std::vector<TaskRecord>> ReadTaskRows(Connection& db, int64_t run_seq,
                                             std::string_view run_id, int64_t after_seq,
                                             int64_t limit) {
  std::vector<TaskRecord> tasks;
  {
    ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql::kListTasks));
    RETURN_IF_ERROR(stmt.BindInt(1, run_seq));
    RETURN_IF_ERROR(stmt.BindInt(2, after_seq));
    RETURN_IF_ERROR(stmt.BindInt(3, limit));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(TaskRecord task, ReadTask(stmt, run_id));
      tasks.push_back(std::move(task));
    }
  }
  TaskStateCache chunks;
  for (TaskRecord& task : tasks) {
    ASSIGN_OR_RETURN(const StoredTaskState* s, chunks.Find(db, run_seq, task.seq));
    if (s == nullptr) return MissingState(run_seq, task.seq);
    RETURN_IF_ERROR(Fill(task, *s));
  }
  return tasks;
}

Result<std::optional<TaskRecord>> ReadTaskRow(Connection& db, int64_t run_seq,
                                              std::string_view run_id, std::string_view task_id) {
  TaskRecord task;
  {
    ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql::kGetTask));
    RETURN_IF_ERROR(stmt.BindInt(1, run_seq));
    RETURN_IF_ERROR(stmt.BindText(2, task_id));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<TaskRecord>();
    ASSIGN_OR_RETURN(task, ReadTask(stmt, run_id));
  }
  TaskStateCache chunks;
  ASSIGN_OR_RETURN(const StoredTaskState* s, chunks.Find(db, run_seq, task.seq));
  if (s == nullptr) return MissingState(run_seq, task.seq);
  RETURN_IF_ERROR(Fill(task, *s));
  return std::optional<TaskRecord>(std::move(task));
}

Result<std::vector<TaskRecord>> ListStaleTaskRows(Connection& db, Micros updated_before,
                                                  int limit) {
  std::vector<TaskRecord> tasks;
  if (limit < 1) return tasks;
  struct Candidate {
    Micros updated_at;
    int64_t run_seq;
    int64_t task_seq;
    std::string run_id;
    StoredTaskState state;
  };
  std::vector<Candidate> found;
  {
    // The chunks of active runs: what is in flight.
    ASSIGN_OR_RETURN(Stmt chunks, db.Prepare(sql::kActiveTaskChunks));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, chunks.Step());
      if (!row) break;
      const int64_t run_seq = chunks.ColumnInt(0);
      const int64_t chunk = chunks.ColumnInt(2);
      ASSIGN_OR_RETURN(std::vector<StoredTaskState> entries, DecodeTaskChunk(chunks.ColumnBlob(3)));
      for (size_t i = 0; i < entries.size(); ++i) {
        StoredTaskState& e = entries[i];
        if (e.state == State::kUnknown || IsTerminal(e.state) || e.executor_job_id.empty() ||
            e.updated_at >= updated_before) {
          continue;
        }
        found.push_back(Candidate{e.updated_at, run_seq,
                                  chunk * kTaskChunk + static_cast<int64_t>(i) + 1,
                                  chunks.ColumnText(1), std::move(e)});
      }
    }
  }
  auto older = [](const Candidate& a, const Candidate& b) {
    return std::tie(a.updated_at, a.run_seq, a.task_seq) <
           std::tie(b.updated_at, b.run_seq, b.task_seq);
  };
  if (static_cast<int>(found.size()) > limit) {
    std::partial_sort(found.begin(), found.begin() + limit, found.end(), older);
    found.resize(static_cast<size_t>(limit));
  } else {
    std::sort(found.begin(), found.end(), older);
  }
  ASSIGN_OR_RETURN(Stmt row, db.Prepare(sql::kGetTaskBySeq));
  for (Candidate& c : found) {
    row.Reset();
    RETURN_IF_ERROR(row.BindInt(1, c.run_seq));
    RETURN_IF_ERROR(row.BindInt(2, c.task_seq));
    ASSIGN_OR_RETURN(bool exists, row.Step());
    if (!exists) continue;  // an entry without a task row: not a task
    ASSIGN_OR_RETURN(TaskRecord task, ReadTask(row, c.run_id));
    RETURN_IF_ERROR(Fill(task, c.state));
    tasks.push_back(std::move(task));
  }
  return tasks;
}

Status PackTaskStateMigration(Connection& db) {
  {
    ASSIGN_OR_RETURN(Stmt old_rows,
                     db.Prepare("SELECT run_seq, seq, state, executor_job_id, exit_code, "
                                "start_time, end_time, system_logs, updated_at FROM tasks_v9 "
                                "ORDER BY run_seq, seq"));
    TaskStateCache cache;
    int64_t run_seq = -1;
    for (;;) {
      ASSIGN_OR_RETURN(bool more, old_rows.Step());
      if (!more) break;
      if (old_rows.ColumnInt(0) != run_seq) {
        RETURN_IF_ERROR(cache.Flush(db));
        cache = TaskStateCache();
        run_seq = old_rows.ColumnInt(0);
      }
      StoredTaskState s;
      s.state = StateFromColumn(old_rows.ColumnInt(2));
      s.executor_job_id = old_rows.ColumnText(3);
      s.exit_code = old_rows.ColumnOptionalInt(4);
      s.start_time = old_rows.ColumnOptionalInt(5);
      s.end_time = old_rows.ColumnOptionalInt(6);
      s.system_logs = old_rows.ColumnText(7);
      s.updated_at = old_rows.ColumnInt(8);
      RETURN_IF_ERROR(cache.Append(db, run_seq, old_rows.ColumnInt(1), std::move(s)));
    }
    RETURN_IF_ERROR(cache.Flush(db));
  }
  return db.Exec("DROP TABLE tasks_v9");
}

}  // namespace sluice::store::sqlite
