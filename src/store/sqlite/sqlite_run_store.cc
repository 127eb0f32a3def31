#include "store/sqlite/sqlite_run_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "common/clock.h"
#include "store/sqlite/archive_ops.h"
#include "store/sqlite/history_ops.h"
#include "store/sqlite/maintenance_ops.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/outbox_ops.h"
#include "store/sqlite/row_codec.h"
#include "store/sqlite/run_query.h"
#include "store/sqlite/statements.h"
#include "store/sqlite/stats_ops.h"
#include "store/sqlite/task_state_ops.h"
#include "store/sqlite/write_ops.h"

namespace sluice::store::sqlite {
namespace {

Status CheckPageSize(int page_size) {
  if (page_size < 1) return InvalidArgument("page_size must be positive");
  return Status::Ok();
}

// Sets the pragmas that must hold on the write connection for durability, and how often it
// checkpoints (SqliteOptions::wal_autocheckpoint_pages).
Status ConfigureWriter(Connection& db, const std::string& path, const SqliteOptions& options) {
  {
    ASSIGN_OR_RETURN(Stmt wal, db.Prepare("PRAGMA journal_mode = WAL"));
    ASSIGN_OR_RETURN(bool row, wal.Step());
    if (!row || wal.ColumnText(0) != "wal") {
      return IoError("cannot use WAL mode for " + path + " (got " +
                     (row ? wal.ColumnText(0) : std::string("nothing")) + ")");
    }
  }
  // NORMAL: a COMMIT writes the WAL without syncing it (SQLite still syncs around each
  // checkpoint, so the file never corrupts); the writer's sync thread makes commits durable
  // with WalSync before anyone hears of them, so an acknowledged write survives power loss.
  // journal_size_limit keeps the WAL file from staying large after a burst.
  return db
      .Exec(
          "PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 67108864; "
          "PRAGMA wal_autocheckpoint = " +
          std::to_string(std::max(1, options.wal_autocheckpoint_pages)) + ";")
      .WithPrefix("configuring " + path);
}

// fdatasync of the database's WAL file: makes every transaction committed before it durable.
// fsync works on the file, not the descriptor, so a descriptor of our own serves. Called
// from the writer's sync thread only.
class WalSync {
 public:
  explicit WalSync(std::string wal_path) : path_(std::move(wal_path)) {}
  ~WalSync() {
    if (fd_ >= 0) ::close(fd_);
  }
  WalSync(const WalSync&) = delete;
  WalSync& operator=(const WalSync&) = delete;

  Status Sync() {
    // Opened on first use: the WAL exists once a transaction has committed (the write
    // connection keeps it, and its inode, for the store's lifetime).
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) return IoError("open " + path_ + ": " + std::strerror(errno));
    }
    while (::fdatasync(fd_) != 0) {
      if (errno != EINTR) return IoError("fdatasync " + path_ + ": " + std::strerror(errno));
    }
    return Status::Ok();
  }

 private:
  const std::string path_;
  int fd_ = -1;
};

Result<std::optional<int64_t>> FindRunSeq(Connection& db, std::string_view run_id) {
  ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql::kRunSeqById));
  RETURN_IF_ERROR(stmt.BindText(1, run_id));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(stmt.ColumnInt(0));
}

Status NoSuchRun(std::string_view run_id) {
  return NotFound("run \"" + std::string(run_id) + "\" not found");
}

// A batch of task transitions whose transaction failed: nothing was applied, every entry gets
// the transaction's error.
std::vector<Result<TransitionOutcome>> EachFailed(size_t n, const Status& st) {
  std::vector<Result<TransitionOutcome>> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.emplace_back(st);
  return out;
}

}  // namespace

Result<std::unique_ptr<SqliteRunStore>> SqliteRunStore::Open(const std::string& db_path,
                                                             SqliteOptions options) {
  ConnectionOptions conn_options;
  conn_options.cache_size_kib = options.writer_cache_size_kib;
  conn_options.busy_timeout_ms = options.busy_timeout_ms;
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> write_conn, Connection::Open(db_path, conn_options));
  conn_options.cache_size_kib = options.cache_size_kib;
  RETURN_IF_ERROR(ConfigureWriter(*write_conn, db_path, options));
  RETURN_IF_ERROR(ApplyMigrations(*write_conn, EmbeddedMigrations()).WithPrefix(db_path));
  ASSIGN_OR_RETURN(std::unique_ptr<ReadPool> readers,
                   ReadPool::Open(db_path, options.read_connections, conn_options));
  auto wal = std::make_shared<WalSync>(db_path + "-wal");
  auto writer = std::make_unique<GroupCommitWriter>(std::move(write_conn), options.max_batch_size,
                                                    [wal] { return wal->Sync(); });
  // Each write's history events are stored as one row per run, and reach the outbox as one
  // row, in the write's savepoint.
  writer->SetWriteHooks(
      [](Connection& db) {
        RETURN_IF_ERROR(FlushPendingHistory(db));
        return FlushPendingOutbox(db);
      },
      [] {
        PendingHistory().Clear();
        PendingOutbox().Clear();
      });
  return std::unique_ptr<SqliteRunStore>(new SqliteRunStore(std::move(writer), std::move(readers)));
}

// The writer drains its queue before the read pool goes away.
SqliteRunStore::~SqliteRunStore() { writer_.reset(); }

Result<CreateRunResult> SqliteRunStore::CreateRun(const NewRun& run) {
  if (run.id.empty()) return InvalidArgument("run id must not be empty");
  ASSIGN_OR_RETURN(EncodedRequest encoded, EncodeRequest(run.request));
  CreateRunResult result;
  RETURN_IF_ERROR(
      writer_->Submit([&](Connection& db) { return CreateRunOp(db, run, encoded, &result); }));
  return result;
}

void SqliteRunStore::CreateRunAsync(const NewRun& run,
                                    std::function<void(Result<CreateRunResult>)> done) {
  if (run.id.empty()) return done(InvalidArgument("run id must not be empty"));
  Result<EncodedRequest> encoded = EncodeRequest(run.request);
  if (!encoded.ok()) return done(encoded.status());
  // The write and its completion both need the run and the result, and std::function must be
  // copyable: they share one heap object instead of copying it twice.
  struct Op {
    NewRun run;
    EncodedRequest encoded;
    CreateRunResult result;
  };
  auto op = std::make_shared<Op>(Op{run, *std::move(encoded), {}});
  writer_->SubmitAsync(
      [op](Connection& db) { return CreateRunOp(db, op->run, op->encoded, &op->result); },
      [op, done = std::move(done)](Status st) {
        if (!st.ok()) return done(std::move(st));
        done(std::move(op->result));
      });
}

Result<RunRecord> SqliteRunStore::GetRun(std::string_view run_id) {
  ReadPool::Lease db = readers_->Acquire();
  ASSIGN_OR_RETURN(Stmt stmt, db->Prepare(sql::kGetRun));
  RETURN_IF_ERROR(stmt.BindText(1, run_id));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return NoSuchRun(run_id);
  return ReadRun(stmt);
}

Result<RunStatusRow> SqliteRunStore::GetRunStatus(std::string_view run_id) {
  ReadPool::Lease db = readers_->Acquire();
  ASSIGN_OR_RETURN(Stmt stmt, db->Prepare(sql::kGetRunStatus));
  RETURN_IF_ERROR(stmt.BindText(1, run_id));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return NoSuchRun(run_id);
  return RunStatusRow{std::string(run_id), StateFromColumn(stmt.ColumnInt(0))};
}

Result<RunPage> SqliteRunStore::ListRuns(const RunListQuery& query) {
  RETURN_IF_ERROR(CheckPageSize(query.page_size));
  ReadPool::Lease db = readers_->Acquire();
  return QueryRuns(*db, query);
}

Result<RunCount> SqliteRunStore::CountRuns(const RunFilter& filter) {
  ReadPool::Lease db = readers_->Acquire();
  return CountMatchingRuns(*db, filter);
}

Result<RunRecord> SqliteRunStore::UpdateTags(std::string_view run_id, const StringMap& set,
                                             const std::vector<std::string>& remove, Micros at) {
  int64_t run_seq = 0;
  RETURN_IF_ERROR(writer_->Submit(
      [&](Connection& db) { return UpdateTagsOp(db, run_id, set, remove, at, &run_seq); }));
  return GetRun(run_id);
}

Result<std::map<State, int64_t>> SqliteRunStore::CountRunsByState() {
  ReadPool::Lease db = readers_->Acquire();
  ASSIGN_OR_RETURN(Stmt stmt, db->Prepare(sql::kCountRunsByState));
  std::map<State, int64_t> counts;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    counts[StateFromColumn(stmt.ColumnInt(0))] = stmt.ColumnInt(1);
  }
  return counts;
}

Result<TransitionOutcome> SqliteRunStore::TransitionRun(const RunTransition& t) {
  TransitionOutcome outcome;
  RETURN_IF_ERROR(
      writer_->Submit([&](Connection& db) { return TransitionRunOp(db, t, &outcome); }));
  return outcome;
}

Result<std::vector<bool>> SqliteRunStore::CreateTasks(const std::vector<TaskRecord>& tasks) {
  ASSIGN_OR_RETURN(std::vector<EncodedTask> encoded, EncodeNewTasks(tasks));
  std::vector<bool> created;
  // One write: its savepoint takes back every task of the call if one fails.
  RETURN_IF_ERROR(
      writer_->Submit([&](Connection& db) { return CreateTasksOp(db, tasks, encoded, &created); }));
  return created;
}

Result<TaskRecord> SqliteRunStore::GetTask(std::string_view run_id, std::string_view task_id) {
  ReadPool::Lease db = readers_->Acquire();
  ASSIGN_OR_RETURN(std::optional<RunRef> run, FindRunRef(*db, run_id));
  if (!run.has_value()) return NoSuchRun(run_id);
  if (run->archived) return GetArchivedTask(*db, run->seq, run_id, task_id);
  ASSIGN_OR_RETURN(std::optional<TaskRecord> task, ReadTaskRow(*db, run->seq, run_id, task_id));
  if (!task.has_value()) {
    return NotFound("task \"" + std::string(run_id) + "/" + std::string(task_id) + "\" not found");
  }
  return std::move(*task);
}

Result<TaskPage> SqliteRunStore::ListTasks(const TaskListQuery& query) {
  RETURN_IF_ERROR(CheckPageSize(query.page_size));
  ReadPool::Lease db = readers_->Acquire();
  ASSIGN_OR_RETURN(std::optional<RunRef> run, FindRunRef(*db, query.run_id));
  if (!run.has_value()) return NoSuchRun(query.run_id);
  if (run->archived) return ListArchivedTasks(*db, run->seq, query);
  ASSIGN_OR_RETURN(std::vector<TaskRecord> tasks,
                   ReadTaskRows(*db, run->seq, query.run_id, query.after_seq.value_or(0),
                                int64_t{query.page_size} + 1));
  TaskPage page;
  if (static_cast<int>(tasks.size()) > query.page_size) {
    tasks.pop_back();
    page.next_after_seq = tasks.back().seq;
  }
  page.tasks = std::move(tasks);
  return page;
}

Result<TransitionOutcome> SqliteRunStore::TransitionTask(const TaskTransition& t) {
  TransitionOutcome outcome;
  RETURN_IF_ERROR(
      writer_->Submit([&](Connection& db) { return TransitionTaskOp(db, t, &outcome); }));
  return outcome;
}

Result<HistoryPage> SqliteRunStore::ListHistory(const HistoryQuery& query) {
  RETURN_IF_ERROR(CheckPageSize(query.page_size));
  ReadPool::Lease db = readers_->Acquire();
  ASSIGN_OR_RETURN(std::optional<RunRef> run, FindRunRef(*db, query.run_id));
  if (!run.has_value()) return NoSuchRun(query.run_id);
  if (run->archived) return ListArchivedHistory(*db, run->seq, query);
  ASSIGN_OR_RETURN(
      std::vector<HistoryEvent> events,
      ReadHistory(*db, run->seq, query.after_seq.value_or(0), int64_t{query.page_size} + 1));
  HistoryPage page;
  if (static_cast<int>(events.size()) > query.page_size) {
    events.pop_back();
    page.next_after_seq = events.back().seq;
  }
  for (HistoryEvent& e : events) e.run_id = query.run_id;
  page.events = std::move(events);
  return page;
}

Result<int64_t> SqliteRunStore::AppendRunEvents(std::string_view run_id,
                                                const std::vector<RunEvent>& events) {
  int64_t last_seq = 0;
  RETURN_IF_ERROR(writer_->Submit(
      [&](Connection& db) { return AppendRunEventsOp(db, run_id, events, &last_seq); }));
  return last_seq;
}

Result<RunEventPage> SqliteRunStore::ListRunEvents(const RunEventQuery& query) {
  RETURN_IF_ERROR(CheckPageSize(query.page_size));
  ReadPool::Lease db = readers_->Acquire();
  ASSIGN_OR_RETURN(std::optional<int64_t> run_seq, FindRunSeq(*db, query.run_id));
  if (!run_seq.has_value()) return NoSuchRun(query.run_id);
  const char* text = query.filter == RunEventFilter::kReplayOnly    ? sql::kListReplayRunEvents
                     : query.filter == RunEventFilter::kHistoryOnly ? sql::kListHistoryRunEvents
                                                                    : sql::kListRunEvents;
  ASSIGN_OR_RETURN(Stmt stmt, db->Prepare(text));
  RETURN_IF_ERROR(stmt.BindInt(1, *run_seq));
  RETURN_IF_ERROR(stmt.BindInt(2, query.after_seq.value_or(0)));
  RETURN_IF_ERROR(stmt.BindInt(3, int64_t{query.page_size} + 1));
  RunEventPage page;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    if (static_cast<int>(page.events.size()) == query.page_size) {
      page.next_after_seq = page.events.back().seq;
      break;
    }
    RunEvent e;
    e.seq = stmt.ColumnInt(0);
    e.type = stmt.ColumnText(1);
    e.at = stmt.ColumnInt(2);
    e.state_name = stmt.ColumnText(3);
    e.scope = stmt.ColumnText(4);
    e.details = stmt.ColumnText(5);
    e.replay = stmt.ColumnInt(6) != 0;
    page.events.push_back(std::move(e));
  }
  return page;
}

Result<std::vector<RunRecord>> SqliteRunStore::ClaimRuns(const ClaimRequest& req) {
  if (req.owner.empty()) return InvalidArgument("claim owner must not be empty");
  if (req.limit < 1) return std::vector<RunRecord>();
  std::vector<RunRecord> runs;
  RETURN_IF_ERROR(writer_->Submit([&](Connection& db) { return ClaimRunsOp(db, req, &runs); }));
  return runs;
}

Status SqliteRunStore::RenewLeases(std::string_view owner, Micros lease_until) {
  if (owner.empty()) return InvalidArgument("lease owner must not be empty");
  return writer_->Submit([&](Connection& db) { return RenewLeasesOp(db, owner, lease_until); });
}



// --- outbox, stats, maintenance and state sync's batch (0005_outbox_stats.sql) ---

std::vector<Result<TransitionOutcome>> SqliteRunStore::TransitionTasks(
    const std::vector<TaskTransition>& ts) {
  std::vector<Result<TransitionOutcome>> out;
  if (ts.empty()) return out;
  Status st = writer_->Submit([&](Connection& db) { return TransitionTasksOp(db, ts, &out); });
  if (!st.ok()) return EachFailed(ts.size(), st);
  return out;
}

void SqliteRunStore::TransitionTasksAsync(std::vector<TaskTransition> ts, TransitionsDone done) {
  if (ts.empty()) return done({}, {});
  // Shared by the write and its completion (std::function must be copyable).
  struct Op {
    std::vector<TaskTransition> ts;
    std::vector<Result<TransitionOutcome>> out;
    TransitionsDone done;
  };
  auto op = std::make_shared<Op>(Op{std::move(ts), {}, std::move(done)});
  writer_->SubmitAsync([op](Connection& db) { return TransitionTasksOp(db, op->ts, &op->out); },
                       [op](Status st) {
                         std::vector<Result<TransitionOutcome>> out =
                             st.ok() ? std::move(op->out) : EachFailed(op->ts.size(), st);
                         op->done(std::move(op->ts), std::move(out));
                       });
}

Status SqliteRunStore::DeleteRun(std::string_view run_id) {
  Micros now = SystemClock().Now();  // when the RunDeleted entry was written (outbox pruning)
  return writer_->Submit([&](Connection& db) { return DeleteRunOp(db, run_id, now); });
}

Result<int> SqliteRunStore::ArchiveEndedRuns(Micros ended_before, int limit) {
  int archived = 0;
  RETURN_IF_ERROR(writer_->Submit([&](Connection& db) -> Status {
    ASSIGN_OR_RETURN(archived, ArchiveEndedRunsOp(db, ended_before, limit));
    return Status::Ok();
  }));
  return archived;
}

Result<std::vector<EndedRun>> SqliteRunStore::ListEndedRuns(const EndedRunQuery& query) {
  ReadPool::Lease db = readers_->Acquire();
  return ListEndedRunRows(*db, query);
}

Result<std::vector<TaskRecord>> SqliteRunStore::ListStaleTasks(Micros updated_before, int limit) {
  ReadPool::Lease db = readers_->Acquire();
  return ListStaleTaskRows(*db, updated_before, limit);
}

Result<std::vector<StatsGroup>> SqliteRunStore::QueryStats(const StatsQuery& query) {
  ReadPool::Lease db = readers_->Acquire();
  return QueryStatsRows(*db, query);
}

Result<std::vector<ChangeEvent>> SqliteRunStore::ReadOutbox(int64_t after_seq, int limit) {
  ReadPool::Lease db = readers_->Acquire();
  return ReadOutboxRows(*db, after_seq, limit);
}

Result<OutboxBounds> SqliteRunStore::GetOutboxBounds() {
  ReadPool::Lease db = readers_->Acquire();
  return ReadOutboxBounds(*db);
}

Result<int64_t> SqliteRunStore::PruneOutbox(Micros before, int limit) {
  int64_t deleted = 0;
  RETURN_IF_ERROR(writer_->Submit(
      [&](Connection& db) { return PruneOutboxOp(db, before, limit, &deleted); }));
  return deleted;
}

void SqliteRunStore::SetOutboxListener(std::function<void()> listener) {
  if (!listener) {
    writer_->SetCommitHooks(nullptr, nullptr, nullptr);
    return;
  }
  // The watermark is the writer thread's: only the first two hooks touch it. Listeners hear
  // of new entries once they are durable.
  auto watermark = std::make_shared<OutboxWatermark>();
  writer_->SetCommitHooks([watermark](Connection& db) { return watermark->Advanced(db); },
                          [watermark] { watermark->Committed(); }, std::move(listener));
}

}  // namespace sluice::store::sqlite
