// GroupCommitWriter: the one thread that writes to an SQLite database.
//
// Callers hand it a write as a closure and block until that write is durable. The thread
// takes everything queued (up to max_batch) and runs it in one BEGIN IMMEDIATE ... COMMIT,
// each closure inside its own SAVEPOINT: a closure that fails is rolled back alone and its
// caller gets its error, the others commit. Callers are woken only after the COMMIT (a synced
// commit with synchronous=FULL), so many concurrent writers share one fsync.
//
// Thread-safety: Submit may be called from any number of threads. The closures run on the
// writer thread only, so they may use the write connection freely. The destructor finishes
// the queued work, then joins the thread; Submit after that starts returns kUnavailable.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <thread>

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

  GroupCommitWriter(std::unique_ptr<Connection> db, int max_batch);
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Queues `write` and blocks until its transaction committed (OK) or failed (the write's
  // own error, or the transaction's kIo/kInternal error). kUnavailable when shutting down.
  Status Submit(Write write);

  WriterStats stats() const;

  // Test hooks: while paused the writer thread takes no new batch, so a test can queue many
  // writes and see them committed together. Pending() counts queued, not-yet-taken writes.
  void PauseForTesting();
  void ResumeForTesting();
  size_t PendingForTesting();

 private:
  struct Pending {
    Write write;
    std::promise<Status> done;
  };

  void Loop();
  // Runs one batch in one transaction; returns one Status per write.
  std::vector<Status> RunBatch(std::vector<Pending>& batch);
  Status RunInSavepoint(Pending& p);
  Status Step(const char* static_sql);

  std::unique_ptr<Connection> db_;  // used by the writer thread only
  const int max_batch_;

  Mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool paused_ GUARDED_BY(mu_) = false;

  std::atomic<int64_t> transactions_{0};
  std::atomic<int64_t> writes_{0};
  std::thread thread_;  // last: started after everything above exists
};

}  // namespace sluice::store::sqlite
