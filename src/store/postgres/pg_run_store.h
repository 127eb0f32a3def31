// PgRunStore: the PostgreSQL RunStore backend, for several `sluice serve` replicas sharing one
// database (libpq).
//
// - Every write is one transaction on a pooled connection, committed with
//   synchronous_commit on (the server default): a write that returned OK is durable.
//   Concurrent writers use different connections and PostgreSQL groups their WAL flushes.
//   CreateRunAsync runs on a small pool of store threads, so callers never wait on a commit.
// - Deadlocks and serialization failures retry the whole transaction (a few times).
// - ClaimRuns takes runs with FOR UPDATE SKIP LOCKED: concurrent claimers (any replica) never
//   get the same run and never wait on each other.
// - The outbox is numbered in commit order by sluice_sequence_outbox() (see
//   migrations/0001_init.sql and README.md): a reader never skips an entry that commits late.
// - Wake-ups: after a local commit that added outbox entries, the store calls the outbox
//   listener and sends one NOTIFY (coalesced) on a dedicated connection, which also LISTENs:
//   a NOTIFY from another replica calls the listener too. (NOTIFY is sent after the commit,
//   not inside the transaction: PostgreSQL serializes the commits of notifying transactions
//   on one database-wide lock, which would queue every submission behind the one before.)
// - Counts per state, user, workflow type and tag and the stats roll-ups are kept by the
//   writes (triggers, striped counters); ArchiveEndedRuns keeps the interface default.
//
// Thread-safety: thread-safe (see RunStore). The destructor stops the store threads; no call
// may be in progress or start once it runs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_annotations.h"
#include "store/postgres/pg_connection.h"
#include "store/run_store.h"

namespace sluice::store::postgres {

struct PgOptions {
  // postgres://user@host:port/db (or a libpq conninfo string).
  std::string url;
  // Schema holding the tables ("": the server's default search_path, normally public).
  // Created if missing. Tests give each store a schema of its own.
  std::string schema;
  // Connections for reads and writes (each call holds one for its duration).
  int pool_size = 16;
  // Threads running CreateRunAsync.
  int async_threads = 12;
};

class PgRunStore final : public RunStore {
 public:
  // Connects, applies pending migrations and starts the store threads. kUnavailable if the
  // server cannot be reached; kFailedPrecondition if the schema is newer than this binary's.
  static Result<std::unique_ptr<PgRunStore>> Open(const PgOptions& options);
  ~PgRunStore() override;

  Result<CreateRunResult> CreateRun(const NewRun& run) override;
  void CreateRunAsync(const NewRun& run,
                      std::function<void(Result<CreateRunResult>)> done) override;
  Result<RunRecord> GetRun(std::string_view run_id) override;
  Result<RunStatusRow> GetRunStatus(std::string_view run_id) override;
  Result<RunPage> ListRuns(const RunListQuery& query) override;
  Result<RunCount> CountRuns(const RunFilter& filter) override;
  Result<std::map<State, int64_t>> CountRunsByState() override;
  Result<RunRecord> UpdateTags(std::string_view run_id, const StringMap& set,
                               const std::vector<std::string>& remove, Micros at) override;
  Status DeleteRun(std::string_view run_id) override;
  Result<std::vector<EndedRun>> ListEndedRuns(const EndedRunQuery& query) override;
  Result<std::vector<StatsGroup>> QueryStats(const StatsQuery& query) override;
  Result<std::vector<ChangeEvent>> ReadOutbox(int64_t after_seq, int limit) override;
  Result<OutboxBounds> GetOutboxBounds() override;
  Result<int64_t> PruneOutbox(Micros before, int limit) override;
  Result<TransitionOutcome> TransitionRun(const RunTransition& t) override;
  Result<std::vector<bool>> CreateTasks(const std::vector<TaskRecord>& tasks) override;
  Result<TaskRecord> GetTask(std::string_view run_id, std::string_view task_id) override;
  Result<TaskPage> ListTasks(const TaskListQuery& query) override;
  Result<TransitionOutcome> TransitionTask(const TaskTransition& t) override;
  std::vector<Result<TransitionOutcome>> TransitionTasks(
      const std::vector<TaskTransition>& ts) override;
  Result<std::vector<TaskRecord>> ListStaleTasks(Micros updated_before, int limit) override;
  Result<HistoryPage> ListHistory(const HistoryQuery& query) override;
  Result<int64_t> AppendRunEvents(std::string_view run_id,
                                  const std::vector<RunEvent>& events) override;
  Result<RunEventPage> ListRunEvents(const RunEventQuery& query) override;
  void SetOutboxListener(std::function<void()> listener) override;
  Result<std::vector<RunRecord>> ClaimRuns(const ClaimRequest& req) override;
  Status RenewLeases(std::string_view owner, Micros lease_until) override;

  // One write transaction's context: the connection and whether it added outbox entries.
  struct Tx {
    PgConn& db;
    bool outbox = false;
  };

 private:
  PgRunStore(PgOptions options, std::unique_ptr<PgPool> pool,
             std::unique_ptr<PgConn> notify_conn);

  // Runs `body` in a transaction on a pooled connection; retries deadlocks and serialization
  // failures (and unique violations when `retry_unique`: a concurrent insert of the same key
  // is then found by the next attempt). Wakes listeners after a commit that wrote outbox.
  // `single_statement`: the body runs one statement, committed on its own (no BEGIN/COMMIT
  // round trips).
  Status InTransaction(const std::function<Status(Tx&)>& body, bool retry_unique = false,
                       bool single_statement = false);
  // Numbers the committed outbox entries that have no seq yet.
  Status SequenceOutbox(PgConn& db);
  void NotifyLoop();
  void AsyncLoop();
  void WakeNotifier();

  const PgOptions options_;
  const std::string channel_;
  std::unique_ptr<PgPool> pool_;

  Mutex listener_mu_;
  std::function<void()> listener_ GUARDED_BY(listener_mu_);

  // The notifier thread: LISTENs on notify_conn_, NOTIFYs after local commits.
  std::unique_ptr<PgConn> notify_conn_;
  int wake_pipe_[2] = {-1, -1};
  std::atomic<bool> local_pending_{false};
  std::atomic<bool> stop_{false};
  std::thread notifier_;

  // CreateRunAsync's threads.
  Mutex async_mu_;
  std::condition_variable async_cv_;
  std::deque<std::function<void()>> async_queue_ GUARDED_BY(async_mu_);
  bool async_stop_ GUARDED_BY(async_mu_) = false;
  std::vector<std::thread> async_threads_;
};

// Whether `url` names a PostgreSQL store (postgres:// or postgresql://).
bool IsPostgresUrl(std::string_view url);

}  // namespace sluice::store::postgres
