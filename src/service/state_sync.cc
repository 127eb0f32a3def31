#include "service/state_sync.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <thread>
#include <utility>

#include "common/thread_annotations.h"
#include "common/thread_name.h"
#include "service/run_service.h"

namespace sluice::service {
namespace {

// Most tasks one reconciler pass looks at (the tasks in flight, normally far fewer).
constexpr int kMaxStaleTasksPerPass = 100000;


// What the store is asked to do with one executor event.
store::TaskTransition TransitionFor(const exec::ExecutorEvent& e, Micros now) {
  store::TaskTransition t;
  t.run_id = e.run_id;
  t.task_id = e.task_id;
  t.to = e.state;
  t.at = now;
  t.reason = e.reason;
  if (t.reason.empty()) {
    // Every history entry says why (the audit trail); executors leave the obvious unsaid.
    if (e.state == State::kRunning) {
      t.reason = e.job_id.empty() ? "started" : "job " + e.job_id + " started";
    } else if (e.exit_code.has_value()) {
      t.reason = "exit code " + std::to_string(*e.exit_code);
    } else {
      t.reason = "reported " + std::string(StateName(e.state)) + " by the executor";
    }
  }
  if (!e.job_id.empty()) t.executor_job_id = e.job_id;
  t.exit_code = e.exit_code;
  t.start_time = e.start_time;
  t.end_time = e.end_time;
  if (IsTerminal(e.state) && e.state != State::kComplete && !e.reason.empty()) {
    t.system_log = e.reason;
  }
  // Where it ran (Slurm): in the history reason, and in the task's system log (appended
  // only when the state changes, so repeated events add nothing).
  if (!e.node.empty()) {
    const std::string on_node = "on node " + e.node;
    t.reason = t.reason.empty() ? on_node : t.reason + " (" + on_node + ")";
    if (t.system_log.has_value()) {
      *t.system_log += " (" + on_node + ")";
    } else if (e.state == State::kRunning) {
      t.system_log = "running " + on_node;
    }
  }
  return t;
}

}  // namespace

class StateSync::Impl {
 public:
  Impl(store::RunStore& store, const Clock& clock, StateSyncOptions options)
      : store_(store), clock_(clock), options_(std::move(options)) {
    if (options_.max_batch < 1) options_.max_batch = 1;
    if (options_.reconcile_batch < 1) options_.reconcile_batch = 1;
  }

  ~Impl() { Stop(); }

  void SetExecutor(exec::Executor* executor) {
    MutexLock lock(mu_);
    executor_ = executor;
  }

  void SetListener(Listener listener) {
    MutexLock lock(apply_mu_);
    listener_ = std::move(listener);
  }

  Status Start() {
    MutexLock lock(mu_);
    if (started_) return FailedPrecondition("state sync: already started");
    started_ = true;
    stopping_ = false;
    try {
      applier_ = std::thread([this] { ApplierLoop(); });
      if (options_.reconcile_every > 0 && executor_ != nullptr) {
        reconciler_ = std::thread([this] { ReconcilerLoop(); });
      }
    } catch (const std::system_error& e) {
      return ResourceExhausted(std::string("state sync: cannot start a thread: ") + e.what());
    }
    return Status::Ok();
  }

  void Stop() {
    {
      MutexLock lock(mu_);
      if (!started_) return;
      stopping_ = true;
    }
    queue_cv_.notify_all();
    reconcile_cv_.notify_all();
    if (reconciler_.joinable()) reconciler_.join();
    if (applier_.joinable()) applier_.join();  // drains the queue before it returns
    MutexLock lock(mu_);
    started_ = false;
  }

  void OnExecutorEvent(const exec::ExecutorEvent& event) {
    {
      MutexLock lock(mu_);
      if (started_ && !stopping_) {
        queue_.push_back(event);
        if (queue_.size() == 1) queue_cv_.notify_one();
        return;
      }
    }
    // Not running (before Start or after Stop): apply on the caller's thread, so that no
    // event is lost.
    ApplyNow({event});
  }

  void ApplyNow(const std::vector<exec::ExecutorEvent>& events) {
    if (events.empty()) return;
    for (size_t i = 0; i < events.size(); i += static_cast<size_t>(options_.max_batch)) {
      size_t end = std::min(events.size(), i + static_cast<size_t>(options_.max_batch));
      std::vector<exec::ExecutorEvent> batch(events.begin() + static_cast<ptrdiff_t>(i),
                                             events.begin() + static_cast<ptrdiff_t>(end));
      Apply(batch, /*from_reconciler=*/false, /*wait=*/true);
    }
  }

  Result<int> ReconcileOnce() {
    exec::Executor* executor;
    {
      MutexLock lock(mu_);
      executor = executor_;
    }
    if (executor == nullptr) return 0;
    // Every stale task in one read (a task that stays quiet keeps its place at the front, so
    // reading only the first reconcile_batch would never reach the others), polled
    // reconcile_batch at a time.
    ASSIGN_OR_RETURN(std::vector<store::TaskRecord> stale,
                     store_.ListStaleTasks(clock_.Now() - options_.stale_after,
                                           kMaxStaleTasksPerPass));
    std::vector<exec::JobRef> jobs;
    jobs.reserve(stale.size());
    const std::string name = executor->Name();
    for (const auto& task : stale) {
      if (task.executor_job_id.empty()) continue;
      if (!task.executor.empty() && task.executor != name) continue;  // another executor's
      jobs.push_back(exec::JobRef{task.run_id, task.id, task.executor_job_id,
                                  RunService::TaskDir(options_.data_dir, task.run_id, task.id)});
    }
    const size_t chunk = static_cast<size_t>(std::max(1, options_.reconcile_batch));
    for (size_t j = 0; j < jobs.size(); j += chunk) {
      std::vector<exec::JobRef> some(jobs.begin() + static_cast<ptrdiff_t>(j),
                                     jobs.begin() + static_cast<ptrdiff_t>(
                                                        std::min(jobs.size(), j + chunk)));
      ASSIGN_OR_RETURN(std::vector<exec::ExecutorEvent> events, executor->Poll(some));
      for (size_t i = 0; i < events.size(); i += static_cast<size_t>(options_.max_batch)) {
        size_t end = std::min(events.size(), i + static_cast<size_t>(options_.max_batch));
        std::vector<exec::ExecutorEvent> batch(events.begin() + static_cast<ptrdiff_t>(i),
                                               events.begin() + static_cast<ptrdiff_t>(end));
        Apply(batch, /*from_reconciler=*/true, /*wait=*/true);
      }
    }
    return static_cast<int>(jobs.size());
  }

  StateSyncCounters Counters() const {
    MutexLock lock(counters_mu_);
    return counters_;
  }

 private:
  void ApplierLoop() {
    NameThisThread("state-sync");
    std::vector<exec::ExecutorEvent> batch;
    while (true) {
      batch.clear();
      {
        MutexLock lock(mu_);
        lock.Wait(queue_cv_, [this]() NO_THREAD_SAFETY_ANALYSIS {
          return stopping_ || !queue_.empty();
        });
        if (queue_.empty()) break;  // stopping, and everything queued was applied
        size_t n = std::min(queue_.size(), static_cast<size_t>(options_.max_batch));
        batch.assign(std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(n)));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(n));
      }
      Apply(batch, /*from_reconciler=*/false, /*wait=*/false);
    }
    // Whatever is still being made durable is published before Stop returns.
    MutexLock lock(flight_mu_);
    lock.Wait(flight_cv_, [this]() NO_THREAD_SAFETY_ANALYSIS { return in_flight_ == 0; });
  }

  void ReconcilerLoop() {
    NameThisThread("reconciler");
    while (true) {
      {
        MutexLock lock(mu_);
        lock.WaitFor(reconcile_cv_, std::chrono::microseconds(options_.reconcile_every),
                     [this]() NO_THREAD_SAFETY_ANALYSIS { return stopping_; });
        if (stopping_) return;
      }
      Result<int> polled = ReconcileOnce();
      if (!polled.ok()) {
        spdlog::warn("state sync: reconciler pass failed: {}", polled.status().ToString());
      } else if (*polled > 0) {
        spdlog::debug("state sync: reconciler polled {} tasks", *polled);
      }
    }
  }

  // One store transaction for the batch, then (once it is durable) the counters and the
  // listener with what changed. Up to kMaxInFlight batches are queued in the store at once,
  // so the next one is applied while one is being made durable; the store completes them in
  // the order they were queued, so the listener sees changes in commit order. With `wait`,
  // returns once this batch was published.
  void Apply(const std::vector<exec::ExecutorEvent>& events, bool from_reconciler, bool wait) {
    const Micros now = clock_.Now();
    std::vector<store::TaskTransition> ts;
    ts.reserve(events.size());
    for (const auto& e : events) ts.push_back(TransitionFor(e, now));
    std::shared_ptr<std::promise<void>> published;
    std::future<void> done;
    if (wait) {
      published = std::make_shared<std::promise<void>>();
      done = published->get_future();
    }
    {
      MutexLock lock(flight_mu_);
      lock.Wait(flight_cv_,
                [this]() NO_THREAD_SAFETY_ANALYSIS { return in_flight_ < kMaxInFlight; });
      ++in_flight_;
    }
    store_.TransitionTasksAsync(
        std::move(ts),
        [this, from_reconciler, published](std::vector<store::TaskTransition> applied,
                                           std::vector<Result<store::TransitionOutcome>> results) {
          Publish(std::move(applied), results, from_reconciler);
          {
            MutexLock lock(flight_mu_);
            --in_flight_;
          }
          flight_cv_.notify_all();
          if (published) published->set_value();
        });
    if (wait) done.wait();
  }

  // Counts a durable batch's outcomes and tells the listener what changed (the ids move from
  // `ts` into the changes).
  void Publish(std::vector<store::TaskTransition> ts,
               const std::vector<Result<store::TransitionOutcome>>& results, bool from_reconciler) {
    MutexLock apply_lock(apply_mu_);
    StateSyncCounters delta;
    delta.received = static_cast<int64_t>(ts.size());
    delta.batches = 1;
    std::vector<TaskChange> changes;
    changes.reserve(ts.size());
    for (size_t i = 0; i < ts.size(); ++i) {
      if (i >= results.size()) {
        ++delta.failed;
        continue;
      }
      const auto& r = results[i];
      if (r.ok()) {
        if (r->changed) {
          ++delta.applied;
          if (from_reconciler) ++delta.reconciled;
          changes.push_back(
              TaskChange{std::move(ts[i].run_id), std::move(ts[i].task_id), r->from, ts[i].to});
        } else {
          ++delta.duplicates;
        }
      } else if (r.status().code() == StatusCode::kFailedPrecondition) {
        ++delta.stale;
        spdlog::debug("run {} task {}: ignored stale event to {}: {}", ts[i].run_id,
                      ts[i].task_id, StateName(ts[i].to), r.status().message());
      } else {
        ++delta.failed;
        spdlog::warn("run {} task {}: cannot apply event to {}: {}", ts[i].run_id,
                     ts[i].task_id, StateName(ts[i].to), r.status().ToString());
      }
    }
    {
      MutexLock lock(counters_mu_);
      counters_.received += delta.received;
      counters_.applied += delta.applied;
      counters_.duplicates += delta.duplicates;
      counters_.stale += delta.stale;
      counters_.failed += delta.failed;
      counters_.reconciled += delta.reconciled;
      counters_.batches += delta.batches;
    }
    if (!changes.empty() && listener_) {
      try {
        listener_(changes);
      } catch (const std::exception& e) {
        spdlog::error("state sync: listener threw: {}", e.what());
      }
    }
  }

  store::RunStore& store_;
  const Clock& clock_;
  StateSyncOptions options_;

  Mutex mu_;
  std::condition_variable queue_cv_;
  std::condition_variable reconcile_cv_;
  std::deque<exec::ExecutorEvent> queue_ GUARDED_BY(mu_);
  bool started_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  exec::Executor* executor_ GUARDED_BY(mu_) = nullptr;
  std::thread applier_;
  std::thread reconciler_;

  Mutex apply_mu_;  // one batch published at a time; guards the listener
  Listener listener_;

  static constexpr int kMaxInFlight = 4;  // batches queued in the store, not yet durable
  Mutex flight_mu_;
  std::condition_variable flight_cv_;
  int in_flight_ GUARDED_BY(flight_mu_) = 0;

  mutable Mutex counters_mu_;
  StateSyncCounters counters_ GUARDED_BY(counters_mu_);
};

StateSync::StateSync(store::RunStore& store, const Clock& clock, StateSyncOptions options)
    : impl_(std::make_unique<Impl>(store, clock, std::move(options))) {}

StateSync::~StateSync() = default;

void StateSync::SetExecutor(exec::Executor* executor) { impl_->SetExecutor(executor); }
void StateSync::SetListener(Listener listener) { impl_->SetListener(std::move(listener)); }
Status StateSync::Start() { return impl_->Start(); }
void StateSync::Stop() { impl_->Stop(); }
void StateSync::OnExecutorEvent(const exec::ExecutorEvent& event) {
  impl_->OnExecutorEvent(event);
}
void StateSync::ApplyNow(const std::vector<exec::ExecutorEvent>& events) {
  impl_->ApplyNow(events);
}
Result<int> StateSync::ReconcileOnce() { return impl_->ReconcileOnce(); }
StateSyncCounters StateSync::Counters() const { return impl_->Counters(); }

}  // namespace sluice::service
