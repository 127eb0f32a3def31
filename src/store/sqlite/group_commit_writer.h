// GroupCommitWriter: the one thread that writes to an SQLite database.
//
// Callers hand it a write as a closure plus a completion callback (SubmitAsync), or block
// until the write is durable (Submit, built on the same queue). The thread takes everything
// queued (up to max_batch) and runs it in one BEGIN IMMEDIATE ... COMMIT, each closure inside
// its own SAVEPOINT: a closure that fails is rolled back alone and its caller gets its error,
// the others commit. Completions run only once the COMMIT is durable, so many concurrent
// writers share one fsync.
//
// Durability comes one of two ways:
//  - no `sync` function: the COMMIT itself syncs (synchronous=FULL); completions run on the
//    writer thread right after it.
//  - a `sync` function (the store's fdatasync of the WAL file, with synchronous=NORMAL): the
//    COMMIT only writes the WAL, and a second thread runs `sync` and then the completions of
//    every batch committed before `sync` started, while the writer thread goes on with the
//    next batch. The fsync of one batch overlaps the work of the next. A commit is visible
//    to readers up to one `sync` before it is durable; every completion (and the commit
//    hooks' `after`) waits for it, so nobody is told of a write that is not durable.
//
// Completions run outside the mutex, in submission order. They delay the next batch (or
// sync), so they must be short and must not block (post elsewhere if there is real work to
// do); in particular a completion must not call Submit.
//
// Thread-safety: Submit/SubmitAsync may be called from any number of threads. The closures
// run on the writer thread only, so they may use the write connection freely. The destructor
// finishes the queued work (completions included), then joins the threads; a submission after
// that starts fails with kUnavailable.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "store/sqlite/connection.h"

namespace sluice::store::sqlite {

struct WriterStats {
  int64_t transactions = 0;  // committed (or failed) BEGIN ... COMMIT blocks
  int64_t writes = 0;        // closures run
};

class GroupCommitWriter {
 public:
  // A write: runs on the writer thread inside an open transaction and savepoint. A non-OK
  // result rolls back everything it did. It must not BEGIN/COMMIT itself.
  using Write = std::function<Status(Connection&)>;
  // Told the outcome of a write, exactly once: OK once committed, else the write's own error
  // or the transaction's kIo/kInternal error.
  using Done = std::function<void(Status)>;

  // Makes a committed transaction durable (see above); kIo if it could not.
  using Sync = std::function<Status()>;

  // `sync` null: `db` must commit durably itself (synchronous=FULL).
  GroupCommitWriter(std::unique_ptr<Connection> db, int max_batch, Sync sync = nullptr);
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Queues `write` and blocks until its transaction committed (OK) or failed (the write's
  // own error, or the transaction's kIo/kInternal error). kUnavailable when shutting down.
  Status Submit(Write write);

  // Queues `write`; `done` is called once its transaction committed or failed, on the writer
  // thread. When shutting down, `done` gets kUnavailable at once, on the calling thread.
  void SubmitAsync(Write write, Done done);

  WriterStats stats() const;

  // Commit hooks (the store's outbox listener). `check` runs on the writer thread inside each
  // transaction just before its COMMIT; if it returns true, `committed` runs on the writer
  // thread once that COMMIT succeeded, and `after` once it is durable, outside the mutex,
  // before the batch's completions (on the sync thread when there is a `sync`). All must be
  // cheap and must not block. Null `check` clears the hooks. A batch already taken keeps the
  // hooks it started with.
  using CommitCheck = std::function<bool(Connection&)>;
  void SetCommitHooks(CommitCheck check, std::function<void()> committed,
                      std::function<void()> after);

  // Write hooks (the store's outbox): `finish` runs after each write that succeeded, inside its
  // savepoint, and its error fails (and rolls back) that write; `abort` runs after each write
  // that failed, before its rollback. Set once, before the first submission.
  void SetWriteHooks(std::function<Status(Connection&)> finish, std::function<void()> abort);

  // Test hooks: while paused the writer thread takes no new batch, so a test can queue many
  // writes and see them committed together. Pending() counts queued, not-yet-taken writes.
  void PauseForTesting();
  void ResumeForTesting();
  size_t PendingForTesting();

 private:
  struct Pending {
    Write write;
    Done done;
  };
  struct CommitHooks {
    CommitCheck check;
    std::function<void()> committed;
    std::function<void()> after;
  };
  // A batch whose COMMIT returned, waiting for the sync thread.
  struct Committed {
    std::vector<Done> dones;
    std::vector<Status> results;
    std::shared_ptr<const CommitHooks> hooks;  // non-null: run hooks->after once durable
  };

  void Loop();
  void SyncLoop();
  // Runs the `after` hook (if any), then the completions, catching what they throw.
  static void Complete(Committed& batch);
  // Runs one batch in one transaction; returns one Status per write. Sets *notify when
  // `hooks` asked for `after` to run (the COMMIT succeeded).
  std::vector<Status> RunBatch(std::vector<Pending>& batch, const CommitHooks* hooks,
                               bool* notify);
  Status RunInSavepoint(Pending& p);
  Status Step(const char* static_sql);

  std::unique_ptr<Connection> db_;  // used by the writer thread only
  const int max_batch_;

  Mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool paused_ GUARDED_BY(mu_) = false;
  std::shared_ptr<const CommitHooks> hooks_ GUARDED_BY(mu_);
  // Written before the first submission, read by the writer thread after it took a batch
  // (the mutex orders the two).
  std::function<Status(Connection&)> finish_write_;
  std::function<void()> abort_write_;

  const Sync sync_;
  Mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<Committed> committed_ GUARDED_BY(sync_mu_);
  bool sync_stopping_ GUARDED_BY(sync_mu_) = false;

  std::atomic<int64_t> transactions_{0};
  std::atomic<int64_t> writes_{0};
  std::thread sync_thread_;  // started (when there is a `sync`) before the writer thread
  std::thread thread_;       // last: started after everything above exists
};

}  // namespace sluice::store::sqlite
