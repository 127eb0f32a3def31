#include "store/sqlite/bulk_import.h"

#include <algorithm>
#include <utility>

#include "store/sqlite/archive_ops.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/history_ops.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/row_codec.h"
#include "store/sqlite/stats_ops.h"
#include "store/sqlite/task_state_ops.h"

namespace sluice::store::sqlite {
namespace {

// Runs per transaction: large enough to amortize the commit, small enough that the WAL a
// transaction leaves (checkpointed after each commit) stays in the page cache.
constexpr int64_t kRunsPerTransaction = 5000;

constexpr char kInsertRun[] =
    "INSERT INTO runs (id, state, workflow_type, workflow_type_version, workflow_url, "
    "workflow_params, workflow_engine, workflow_engine_version, engine_params, tags, "
    "attachments, submitted_at, updated_at, start_time, end_time, outputs, idempotency_key, "
    "user, name, archived) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
    "?19, ?20)";
constexpr char kInsertTag[] = "INSERT INTO run_tags (key, value, run_seq) VALUES (?1, ?2, ?3)";
constexpr char kInsertTask[] =
    "INSERT INTO tasks (run_seq, seq, id, name, cmd, executor, created_at, launch_spec) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

constexpr int kRunStateChanged = 1;
constexpr int kTaskStateChanged = 2;
constexpr int kTaskCreated = 3;

int64_t V(State s) { return static_cast<int64_t>(s); }

struct Event {
  int64_t task_seq = 0;  // 0: run event
  int type = kRunStateChanged;
  State from = State::kUnknown;
  State to = State::kUnknown;
  Micros at = 0;
  std::string reason;
};

// The path from QUEUED to `final` the scheduler takes: QUEUED, INITIALIZING, RUNNING, then
// the final state; a run or task that never started goes from QUEUED straight to its end.
std::vector<State> PathTo(State final_state, bool started) {
  std::vector<State> path = {State::kQueued};
  if (final_state == State::kQueued) return path;
  if (final_state == State::kInitializing || started) path.push_back(State::kInitializing);
  if (final_state == State::kInitializing) return path;
  if (started) path.push_back(State::kRunning);
  if (final_state != State::kRunning && final_state != path.back()) path.push_back(final_state);
  return path;
}

// Writes the tasks and history of a run that ended with all its tasks ended as compact
// storage (archive_ops.h), as the server leaves such a run once it archived it.
Status InsertArchive(Connection& db, int64_t run_seq, const ImportRun& in,
                     const std::vector<Micros>& task_updated, const std::vector<Event>& events) {
  RunArchive archive;
  archive.tasks.reserve(in.tasks.size());
  for (size_t k = 0; k < in.tasks.size(); ++k) {
    const ImportTask& t = in.tasks[k];
    TaskRecord task;
    task.id = t.id;
    task.seq = static_cast<int64_t>(k) + 1;
    task.name = t.name;
    task.cmd = t.cmd;
    task.launch_spec = t.launch_spec;
    task.state = t.state;
    task.executor = t.executor;
    task.executor_job_id = t.executor_job_id;
    task.exit_code = t.exit_code;
    task.start_time = t.start_time;
    task.end_time = t.end_time;
    task.created_at = t.created_at;
    task.updated_at = task_updated[k];
    archive.tasks.push_back(std::move(task));
  }
  archive.events.reserve(events.size());
  int64_t seq = 0;
  for (const Event& e : events) {
    HistoryEvent h;
    h.seq = ++seq;
    if (e.task_seq != 0) h.task_id = in.tasks[e.task_seq - 1].id;
    h.type = std::string(HistoryTypeName(e.type));
    h.from = e.from;
    h.to = e.to;
    h.at = e.at;
    h.reason = e.reason;
    archive.events.push_back(std::move(h));
  }
  ASSIGN_OR_RETURN(std::string blob, EncodeRunArchive(archive));
  ASSIGN_OR_RETURN(Stmt insert,
                   db.Prepare("INSERT INTO run_archive (run_seq, data) VALUES (?1, ?2)"));
  RETURN_IF_ERROR(insert.BindInt(1, run_seq));
  RETURN_IF_ERROR(insert.BindBlobOrNull(2, blob));
  return insert.Run();
}

}  // namespace

BulkImporter::BulkImporter(std::unique_ptr<Connection> db) : db_(std::move(db)) {}

BulkImporter::~BulkImporter() {
  if (in_transaction_) (void)db_->Exec("ROLLBACK");
  if (!finished_) {
    for (const std::string& trigger : suspended_triggers_) (void)db_->Exec(trigger);
  }
}

Result<std::unique_ptr<BulkImporter>> BulkImporter::Open(const std::string& db_path) {
  ConnectionOptions options;
  options.cache_size_kib = 256 * 1024;
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> db, Connection::Open(db_path, options));
  RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode = WAL").WithPrefix(db_path));
  RETURN_IF_ERROR(ApplyMigrations(*db, EmbeddedMigrations()).WithPrefix(db_path));
  RETURN_IF_ERROR(db->Exec("PRAGMA synchronous = OFF").WithPrefix(db_path));
  std::unique_ptr<BulkImporter> importer(new BulkImporter(std::move(db)));
  // Suspend the triggers that copy history into the outbox.
  {
    ASSIGN_OR_RETURN(Stmt stmt, importer->db_->Prepare(
                                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                    "AND tbl_name = 'history' AND sql LIKE '%outbox%'"));
    std::vector<std::string> names;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      names.push_back(stmt.ColumnText(0));
      importer->suspended_triggers_.push_back(stmt.ColumnText(1));
    }
    stmt.Reset();
    for (const std::string& name : names) {
      RETURN_IF_ERROR(importer->db_->Exec("DROP TRIGGER \"" + name + "\""));
    }
  }
  RETURN_IF_ERROR(importer->Begin());
  return importer;
}

Status BulkImporter::Begin() {
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  in_transaction_ = true;
  runs_in_transaction_ = 0;
  return Status::Ok();
}

Status BulkImporter::Commit() {
  in_transaction_ = false;
  return db_->Exec("COMMIT");
}

Status BulkImporter::Add(const ImportRun& in) {
  if (finished_) return FailedPrecondition("bulk import already finished");
  if (in.run.id.empty()) return InvalidArgument("run id must not be empty");
  if (!in_transaction_) RETURN_IF_ERROR(Begin());
  const NewRun& nr = in.run;
  const RunRequest& r = nr.request;
  ASSIGN_OR_RETURN(EncodedRequest encoded, EncodeRequest(r));
  const bool run_started = in.start_time.has_value();

  // The run's and its tasks' history, in the order the scheduler writes it.
  std::vector<State> run_path = PathTo(in.state, run_started);
  Micros run_end = in.end_time.value_or(in.start_time.value_or(nr.submitted_at));
  std::vector<Event> events;
  auto run_event = [&](State from, State to) {
    Event e;
    e.from = from;
    e.to = to;
    if (to == State::kQueued) {
      e.at = nr.submitted_at;
      e.reason = "submitted";
    } else if (to == State::kInitializing) {
      e.at = nr.submitted_at;
      e.reason = "workflow started";
    } else if (to == State::kRunning) {
      e.at = in.start_time.value_or(nr.submitted_at);
      e.reason = "first task submitted";
    } else {
      e.at = run_end;
      e.reason = in.state == State::kComplete
                     ? "all " + std::to_string(in.tasks.size()) + " tasks completed"
                     : "run ended " + std::string(StateName(in.state));
    }
    events.push_back(std::move(e));
  };
  State prev = State::kUnknown;
  size_t run_events_before_tasks = std::min<size_t>(run_path.size(), 2);
  for (size_t i = 0; i < run_events_before_tasks; ++i) {
    run_event(prev, run_path[i]);
    prev = run_path[i];
  }
  Micros last_at = nr.submitted_at;
  std::vector<Micros> task_updated(in.tasks.size());
  for (size_t k = 0; k < in.tasks.size(); ++k) {
    const ImportTask& t = in.tasks[k];
    int64_t task_seq = static_cast<int64_t>(k) + 1;
    std::vector<State> path = PathTo(t.state, t.start_time.has_value());
    State from = State::kUnknown;
    Micros at = t.created_at;
    for (State to : path) {
      Event e;
      e.task_seq = task_seq;
      e.type = to == State::kQueued ? kTaskCreated : kTaskStateChanged;
      e.from = from;
      e.to = to;
      if (to == State::kQueued) {
        e.at = t.created_at;
        e.reason = "created";
      } else if (to == State::kInitializing) {
        e.at = t.created_at;
        e.reason = "submitted to " + t.executor + " as job " + t.executor_job_id;
      } else if (to == State::kRunning) {
        e.at = t.start_time.value_or(t.created_at);  // the executor gives no reason
      } else {
        // As the local executor reports it: nothing for a clean exit.
        e.at = t.end_time.value_or(t.start_time.value_or(t.created_at));
        if (to != State::kComplete && t.exit_code) {
          e.reason = "exit code " + std::to_string(*t.exit_code);
        }
      }
      at = std::max(at, e.at);
      events.push_back(std::move(e));
      from = to;
    }
    task_updated[k] = at;
    last_at = std::max(last_at, at);
  }
  for (size_t i = run_events_before_tasks; i < run_path.size(); ++i) {
    run_event(prev, run_path[i]);
    prev = run_path[i];
  }
  for (const Event& e : events) last_at = std::max(last_at, e.at);
  Micros updated_at = in.updated_at != 0 ? in.updated_at : last_at;

  ASSIGN_OR_RETURN(Stmt run, db_->Prepare(kInsertRun));
  RETURN_IF_ERROR(run.BindText(1, nr.id));
  RETURN_IF_ERROR(run.BindInt(2, V(in.state)));
  RETURN_IF_ERROR(run.BindText(3, r.workflow_type));
  RETURN_IF_ERROR(run.BindText(4, r.workflow_type_version));
  RETURN_IF_ERROR(run.BindText(5, r.workflow_url));
  RETURN_IF_ERROR(run.BindText(6, r.workflow_params));
  RETURN_IF_ERROR(run.BindText(7, r.workflow_engine));
  RETURN_IF_ERROR(run.BindText(8, r.workflow_engine_version));
  RETURN_IF_ERROR(run.BindTextOrNull(9, encoded.engine_params));
  RETURN_IF_ERROR(run.BindBlobOrNull(10, encoded.tags_blob));
  RETURN_IF_ERROR(run.BindTextOrNull(11, encoded.attachments));
  RETURN_IF_ERROR(run.BindInt(12, nr.submitted_at));
  RETURN_IF_ERROR(run.BindInt(13, updated_at));
  RETURN_IF_ERROR(run.BindOptionalInt(14, in.start_time));
  RETURN_IF_ERROR(run.BindOptionalInt(15, in.end_time));
  RETURN_IF_ERROR(run.BindTextOrNull(16, in.outputs == "{}" ? "" : in.outputs));
  RETURN_IF_ERROR(run.BindTextOrNull(17, nr.idempotency_key));
  RETURN_IF_ERROR(run.BindText(18, nr.user.empty() ? std::string("anonymous") : nr.user));
  auto name = r.tags.find("name");
  RETURN_IF_ERROR(run.BindTextOrNull(19, name == r.tags.end() ? "" : name->second));
  // A run that ended with all its tasks ended goes straight to compact storage.
  bool archive = IsTerminal(in.state) &&
                 in.tasks.size() <= static_cast<size_t>(kMaxArchivedTasks) &&
                 std::all_of(in.tasks.begin(), in.tasks.end(),
                             [](const ImportTask& t) { return IsTerminal(t.state); });
  RETURN_IF_ERROR(run.BindInt(20, archive ? kRunArchived : kRunNotExamined));
  RETURN_IF_ERROR(run.Run());
  const int64_t run_seq = db_->LastInsertRowid();

  if (!r.tags.empty()) {
    ASSIGN_OR_RETURN(Stmt tag, db_->Prepare(kInsertTag));
    for (const auto& [key, value] : r.tags) {
      tag.Reset();
      RETURN_IF_ERROR(tag.BindText(1, key));
      RETURN_IF_ERROR(tag.BindText(2, value));
      RETURN_IF_ERROR(tag.BindInt(3, run_seq));
      RETURN_IF_ERROR(tag.Run());
    }
  }

  if (archive) {
    RETURN_IF_ERROR(InsertArchive(*db_, run_seq, in, task_updated, events));
  } else if (!in.tasks.empty()) {
    ASSIGN_OR_RETURN(Stmt task, db_->Prepare(kInsertTask));
    TaskStateCache states;
    for (size_t k = 0; k < in.tasks.size(); ++k) {
      const ImportTask& t = in.tasks[k];
      ASSIGN_OR_RETURN(std::string cmd, EncodeStringList(t.cmd, "task cmd"));
      const int64_t seq = static_cast<int64_t>(k) + 1;
      task.Reset();
      RETURN_IF_ERROR(task.BindInt(1, run_seq));
      RETURN_IF_ERROR(task.BindInt(2, seq));
      RETURN_IF_ERROR(task.BindText(3, t.id));
      RETURN_IF_ERROR(task.BindText(4, t.name));
      RETURN_IF_ERROR(task.BindTextOrNull(5, cmd));
      RETURN_IF_ERROR(task.BindText(6, t.executor));
      RETURN_IF_ERROR(task.BindInt(7, t.created_at));
      RETURN_IF_ERROR(task.BindTextOrNull(8, t.launch_spec));
      RETURN_IF_ERROR(task.Run());
      StoredTaskState state;
      state.state = t.state;
      state.executor_job_id = t.executor_job_id;
      if (t.exit_code) state.exit_code = *t.exit_code;
      state.start_time = t.start_time;
      state.end_time = t.end_time;
      state.updated_at = task_updated[k];
      RETURN_IF_ERROR(states.Append(*db_, run_seq, seq, std::move(state)));
    }
    RETURN_IF_ERROR(states.Flush(*db_));
  }

  if (!archive) {
    // One row per event, as the server stores the events of separate writes (a state sync
    // batch would pack a run's task changes into fewer rows): the size of an active run is
    // not understated.
    HistoryRowBuilder row;
    int64_t seq = 0;
    for (const Event& e : events) {
      row.Clear();
      row.Add(e.task_seq == 0 ? std::nullopt : std::optional<int64_t>(e.task_seq), e.type, e.from,
              e.to, e.at, e.reason);
      RETURN_IF_ERROR(InsertHistoryRow(*db_, run_seq, ++seq, row));
    }
  }

  if (IsTerminal(in.state)) {
    RETURN_IF_ERROR(AddRunToStatsOp(*db_, run_seq, in.state, in.start_time, run_end, in.usage));
  }
  ++runs_added_;
  if (++runs_in_transaction_ >= kRunsPerTransaction) RETURN_IF_ERROR(Commit());
  return Status::Ok();
}

Status BulkImporter::Finish() {
  if (finished_) return Status::Ok();
  if (in_transaction_) RETURN_IF_ERROR(Commit());
  for (const std::string& trigger : suspended_triggers_) RETURN_IF_ERROR(db_->Exec(trigger));
  finished_ = true;
  RETURN_IF_ERROR(db_->Exec("PRAGMA synchronous = FULL"));
  return db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

}  // namespace sluice::store::sqlite
