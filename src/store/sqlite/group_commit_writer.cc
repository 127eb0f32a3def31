#include "store/sqlite/group_commit_writer.h"

#include <exception>
#include <future>
#include <memory>
#include <utility>

#include "common/thread_name.h"
#include "spdlog/spdlog.h"

namespace sluice::store::sqlite {
namespace {
constexpr char kSavepoint[] = "SAVEPOINT w";
constexpr char kRelease[] = "RELEASE w";
}  // namespace

// Runs one cached statement that returns no rows.
Status GroupCommitWriter::Step(const char* static_sql) {
  ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare(static_sql));
  return stmt.Run();
}

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<Connection> db, int max_batch, Sync sync)
    : db_(std::move(db)),
      max_batch_(max_batch < 1 ? 1 : max_batch),
      sync_(std::move(sync)),
      sync_thread_(sync_ ? std::thread([this] { SyncLoop(); }) : std::thread()),
      thread_([this] { Loop(); }) {}

GroupCommitWriter::~GroupCommitWriter() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  // The writer thread is done: whatever it committed is queued for the sync thread.
  {
    MutexLock lock(sync_mu_);
    sync_stopping_ = true;
  }
  sync_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
}

Status GroupCommitWriter::Submit(Write write) {
  // Shared with the completion, so the promise outlives set_value even if this thread wakes
  // and returns before the writer thread has finished with it.
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> result = done->get_future();
  SubmitAsync(std::move(write), [done](Status st) { done->set_value(std::move(st)); });
  return result.get();
}

void GroupCommitWriter::SubmitAsync(Write write, Done done) {
  bool was_empty = false;
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      was_empty = queue_.empty();
      queue_.push_back(Pending{std::move(write), std::move(done)});
      done = nullptr;
    }
  }
  // Outside the mutex: the callback may submit again.
  if (done) return done(Unavailable("run store is shutting down"));
  // Only the writer waits on cv_, and it re-checks the queue before sleeping: one wake-up
  // per batch is enough, not one system call per write.
  if (was_empty) cv_.notify_all();
}

WriterStats GroupCommitWriter::stats() const {
  return WriterStats{transactions_.load(), writes_.load()};
}

void GroupCommitWriter::SetCommitHooks(CommitCheck check, std::function<void()> committed,
                                       std::function<void()> after) {
  std::shared_ptr<const CommitHooks> hooks;
  if (check) {
    hooks = std::make_shared<const CommitHooks>(
        CommitHooks{std::move(check), std::move(committed), std::move(after)});
  }
  MutexLock lock(mu_);
  hooks_ = std::move(hooks);
}

void GroupCommitWriter::SetWriteHooks(std::function<Status(Connection&)> finish,
                                      std::function<void()> abort) {
  MutexLock lock(mu_);
  finish_write_ = std::move(finish);
  abort_write_ = std::move(abort);
}

void GroupCommitWriter::PauseForTesting() {
  MutexLock lock(mu_);
  paused_ = true;
}

void GroupCommitWriter::ResumeForTesting() {
  {
    MutexLock lock(mu_);
    paused_ = false;
  }
  cv_.notify_all();
}

size_t GroupCommitWriter::PendingForTesting() {
  MutexLock lock(mu_);
  return queue_.size();
}

void GroupCommitWriter::Loop() {
  NameThisThread("sqlite-writer");
  for (;;) {
    std::vector<Pending> batch;
    std::shared_ptr<const CommitHooks> hooks;
    {
      MutexLock lock(mu_);
      // Shutdown overrides a pause: queued work always finishes.
      lock.Wait(cv_, [this]() NO_THREAD_SAFETY_ANALYSIS {
        return stopping_ || (!paused_ && !queue_.empty());
      });
      if (queue_.empty()) return;  // stopping, nothing left
      while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      hooks = hooks_;
    }
    bool notify = false;
    Committed done;
    done.results = RunBatch(batch, hooks.get(), &notify);
    if (notify) {
      if (hooks->committed) {
        try {
          hooks->committed();
        } catch (...) {
          spdlog::error("run store: the commit hook threw");
        }
      }
      done.hooks = hooks;
    }
    done.dones.reserve(batch.size());
    for (Pending& p : batch) done.dones.push_back(std::move(p.done));
    if (!sync_) {
      Complete(done);  // the COMMIT synced
      continue;
    }
    {
      MutexLock lock(sync_mu_);
      committed_.push_back(std::move(done));
    }
    sync_cv_.notify_one();
  }
}

void GroupCommitWriter::SyncLoop() {
  NameThisThread("wal-sync");
  for (;;) {
    std::deque<Committed> work;
    {
      MutexLock lock(sync_mu_);
      lock.Wait(sync_cv_, [this]() NO_THREAD_SAFETY_ANALYSIS {
        return sync_stopping_ || !committed_.empty();
      });
      if (committed_.empty()) return;  // stopping, nothing left
      work.swap(committed_);
    }
    // Every batch in `work` had committed before this sync started: one sync covers them all.
    Status st = sync_();
    if (!st.ok()) spdlog::error("run store: committed writes not made durable: {}", st.ToString());
    for (Committed& batch : work) {
      if (!st.ok()) {
        for (Status& r : batch.results) {
          if (r.ok()) r = st.WithPrefix("making a committed write durable");
        }
      }
      Complete(batch);
    }
  }
}

void GroupCommitWriter::Complete(Committed& batch) {
  if (batch.hooks != nullptr && batch.hooks->after) {
    try {
      batch.hooks->after();
    } catch (...) {
      spdlog::error("run store: the commit hook threw");
    }
  }
  // Outside every mutex. A throwing callback is a bug in its caller, but it must not take a
  // writer thread (and every later write) down with it.
  for (size_t i = 0; i < batch.dones.size(); ++i) {
    try {
      batch.dones[i](std::move(batch.results[i]));
    } catch (const std::exception& e) {
      spdlog::error("run store: a write's completion threw: {}", e.what());
    } catch (...) {
      spdlog::error("run store: a write's completion threw a non-standard exception");
    }
  }
}

Status GroupCommitWriter::RunInSavepoint(Pending& p) {
  RETURN_IF_ERROR(Step(kSavepoint));
  Status st;
  try {
    st = p.write(*db_);
    if (st.ok() && finish_write_) st = finish_write_(*db_);
  } catch (const std::exception& e) {
    st = Internal(std::string("run store write threw: ") + e.what());
  } catch (...) {
    st = Internal("run store write threw a non-standard exception");
  }
  if (st.ok()) {
    st = Step(kRelease);
    if (st.ok()) return st;
  }
  if (abort_write_) abort_write_();
  // Some errors (disk full, I/O) make SQLite roll back the whole transaction; the caller
  // notices through InAutocommit().
  if (!db_->InAutocommit()) {
    (void)db_->Exec("ROLLBACK TO w");
    (void)db_->Exec("RELEASE w");
  }
  return st;
}

std::vector<Status> GroupCommitWriter::RunBatch(std::vector<Pending>& batch,
                                                const CommitHooks* hooks, bool* notify) {
  std::vector<Status> results(batch.size());
  writes_ += static_cast<int64_t>(batch.size());
  auto fail_all = [&results](const Status& st) {
    for (Status& r : results) r = st;
  };
  if (Status st = db_->Exec("BEGIN IMMEDIATE"); !st.ok()) {
    fail_all(st.WithPrefix("starting a write transaction"));
    return results;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    results[i] = RunInSavepoint(batch[i]);
    if (db_->InAutocommit()) {
      // The transaction is gone, and with it the work of the writes before this one.
      Status lost = results[i].ok() ? Internal("write transaction ended unexpectedly") : results[i];
      fail_all(lost.WithPrefix("write transaction rolled back"));
      results[i] = lost;
      return results;
    }
  }
  transactions_++;
  bool wrote = false;
  if (hooks != nullptr) {
    try {
      wrote = hooks->check(*db_);
    } catch (...) {
      spdlog::error("run store: the commit check threw");
    }
  }
  if (Status st = db_->Exec("COMMIT"); !st.ok()) {
    if (!db_->InAutocommit()) (void)db_->Exec("ROLLBACK");
    fail_all(st.WithPrefix("committing a write transaction"));
  } else {
    *notify = wrote;
  }
  return results;
}

}  // namespace sluice::store::sqlite
