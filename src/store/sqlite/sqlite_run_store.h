// SqliteRunStore: the embedded RunStore backend (one SQLite file, WAL mode).
//
// Writes go through one writer thread with group commit (group_commit_writer.h): every write
// is a closure run inside a shared BEGIN IMMEDIATE ... COMMIT with synchronous=FULL, so a
// write that returned OK survives kill -9 and power loss, and concurrent writers share one
// fsync. Reads use a small pool of read-only connections (read_pool.h) with cached prepared
// statements and never queue behind writes. The schema is in migrations/0001_init.sql.
//
// Thread-safety: thread-safe (see RunStore). Destruction finishes queued writes first; no
// call may be in progress or start once the destructor runs.
#pragma once

#include <memory>
#include <string>

#include "store/run_store.h"
#include "store/sqlite/group_commit_writer.h"
#include "store/sqlite/read_pool.h"

namespace sluice::store::sqlite {

struct SqliteOptions {
  // Most writes committed in one transaction.
  int max_batch_size = 256;
  // Read-only connections in the pool (concurrent reads).
  int read_connections = 4;
  // Page cache limit per read connection, in KiB: bounds memory whatever the database size.
  int cache_size_kib = 2048;
  // Page cache of the one write connection, in KiB. Larger, because every insert walks the
  // right edge of each index and a batch should find those pages in memory.
  int writer_cache_size_kib = 16384;
  // How long a connection waits for a lock held by another process before failing (kIo).
  int busy_timeout_ms = 5000;
  // WAL pages after which a commit checkpoints them into the database (SQLite's default is
  // 1000). The pages a batch changes (counts, the newest history, outbox and task-state rows)
  // are mostly the same from one batch to the next, and a checkpoint copies each page once
  // however often it changed, so fewer checkpoints copy fewer pages: state sync applies
  // 10-20% more events per second than with 1000 (docs/performance.md). The WAL grows to
  // about this many 4 KiB pages between checkpoints.
  int wal_autocheckpoint_pages = 4000;
};

class SqliteRunStore final : public RunStore {
 public:
  // Opens or creates the database at `db_path` (its directory must exist), sets WAL mode,
  // applies pending migrations and starts the writer thread. kIo if the file cannot be opened
  // or is not an SQLite database; kFailedPrecondition if its schema is newer than this
  // binary's.
  static Result<std::unique_ptr<SqliteRunStore>> Open(const std::string& db_path,
                                                      SqliteOptions options);
  ~SqliteRunStore() override;

  Result<CreateRunResult> CreateRun(const NewRun& run) override;
  // Queues the insert on the writer thread and returns; `done` runs there after the COMMIT.
  void CreateRunAsync(const NewRun& run,
                      std::function<void(Result<CreateRunResult>)> done) override;
  Result<RunRecord> GetRun(std::string_view run_id) override;
  Result<RunStatusRow> GetRunStatus(std::string_view run_id) override;
  Result<RunPage> ListRuns(const RunListQuery& query) override;
  Result<std::map<State, int64_t>> CountRunsByState() override;
  Result<TransitionOutcome> TransitionRun(const RunTransition& t) override;
  Result<std::vector<bool>> CreateTasks(const std::vector<TaskRecord>& tasks) override;
  Result<TaskRecord> GetTask(std::string_view run_id, std::string_view task_id) override;
  Result<TaskPage> ListTasks(const TaskListQuery& query) override;
  Result<TransitionOutcome> TransitionTask(const TaskTransition& t) override;
  Result<HistoryPage> ListHistory(const HistoryQuery& query) override;
  Result<int64_t> AppendRunEvents(std::string_view run_id,
                                  const std::vector<RunEvent>& events) override;
  Result<RunEventPage> ListRunEvents(const RunEventQuery& query) override;
  Result<std::vector<RunRecord>> ClaimRuns(const ClaimRequest& req) override;
  Status RenewLeases(std::string_view owner, Micros lease_until) override;
  Result<RunCount> CountRuns(const RunFilter& filter) override;
  Result<RunRecord> UpdateTags(std::string_view run_id, const StringMap& set,
                               const std::vector<std::string>& remove, Micros at) override;
  Status DeleteRun(std::string_view run_id) override;
  Result<std::vector<EndedRun>> ListEndedRuns(const EndedRunQuery& query) override;
  // One write transaction per call (archive_ops.h).
  Result<int> ArchiveEndedRuns(Micros ended_before, int limit) override;
  Result<std::vector<StatsGroup>> QueryStats(const StatsQuery& query) override;
  Result<std::vector<ChangeEvent>> ReadOutbox(int64_t after_seq, int limit) override;
  Result<OutboxBounds> GetOutboxBounds() override;
  Result<int64_t> PruneOutbox(Micros before, int limit) override;
  std::vector<Result<TransitionOutcome>> TransitionTasks(
      const std::vector<TaskTransition>& ts) override;
  // Queued on the writer; `done` runs on its sync thread once the batch is durable.
  void TransitionTasksAsync(std::vector<TaskTransition> ts, TransitionsDone done) override;
  Result<std::vector<TaskRecord>> ListStaleTasks(Micros updated_before, int limit) override;
  void SetOutboxListener(std::function<void()> listener) override;

  // Not part of RunStore: how many transactions and writes the writer thread has run.
  WriterStats writer_stats() const { return writer_->stats(); }
  // Test access to the writer (pause/resume to force a batch).
  GroupCommitWriter& writer_for_testing() { return *writer_; }

 private:
  SqliteRunStore(std::unique_ptr<GroupCommitWriter> writer, std::unique_ptr<ReadPool> readers)
      : writer_(std::move(writer)), readers_(std::move(readers)) {}

  std::unique_ptr<GroupCommitWriter> writer_;
  std::unique_ptr<ReadPool> readers_;
};

}  // namespace sluice::store::sqlite
