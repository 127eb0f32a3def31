#include "store/sqlite/group_commit_writer.h"

#include <exception>
#include <future>
#include <memory>
#include <utility>

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

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<Connection> db, int max_batch)
    : db_(std::move(db)), max_batch_(max_batch < 1 ? 1 : max_batch), thread_([this] { Loop(); }) {}

GroupCommitWriter::~GroupCommitWriter() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
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

void GroupCommitWriter::SetCommitHooks(CommitCheck check, std::function<void()> after) {
  std::shared_ptr<const CommitHooks> hooks;
  if (check) {
    hooks = std::make_shared<const CommitHooks>(CommitHooks{std::move(check), std::move(after)});
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
    std::vector<Status> results = RunBatch(batch, hooks.get(), &notify);
    if (notify && hooks->after) {
      try {
        hooks->after();
      } catch (...) {
        spdlog::error("run store: the commit hook threw");
      }
    }
    // After the COMMIT and outside the mutex. A throwing callback is a bug in its caller, but
    // it must not take the writer thread (and every later write) down with it.
    for (size_t i = 0; i < batch.size(); ++i) {
      try {
        batch[i].done(std::move(results[i]));
      } catch (const std::exception& e) {
        spdlog::error("run store: a write's completion threw: {}", e.what());
      } catch (...) {
        spdlog::error("run store: a write's completion threw a non-standard exception");
      }
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
