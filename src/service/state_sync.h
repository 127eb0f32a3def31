// StateSync: applies executor events to the store.
//
// Executors report task state changes as events (exec::ExecutorEvent), at least once and
// possibly out of order. StateSync queues them and applies them in batches, one store
// transaction per batch (RunStore::TransitionTasks), so it keeps up with thousands of
// events per second. The store's rules make applying idempotent and monotonic: a repeated
// event changes nothing, a state never moves backwards (a late RUNNING after COMPLETE is
// ignored and counted as stale) and a terminal state sticks. After each batch is durable it
// tells its listener which tasks changed (the scheduler wakes their runs and frees slots).
//
// The reconciler runs inside StateSync: every `reconcile_every` it asks the executor
// (Executor::Poll, one call for the lot) about submitted, unfinished tasks whose last change
// is older than `stale_after`, and applies what it learns as events, repairing anything an
// executor failed to report.
//
// Thread-safety: thread-safe. OnExecutorEvent may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "exec/executor.h"
#include "store/run_store.h"

namespace sluice::service {

struct StateSyncOptions {
  int max_batch = 512;                                 // events per transaction
  Micros reconcile_every = 30 * kMicrosPerSecond;      // 0: no reconciler thread
  Micros stale_after = 60 * kMicrosPerSecond;
  int reconcile_batch = 500;                           // tasks per Poll call
  std::string data_dir;  // to compute task directories for JobRefs (runs/<run>/tasks/<task>)
};

struct StateSyncCounters {
  int64_t received = 0;     // events handed to OnExecutorEvent (and by the reconciler)
  int64_t applied = 0;      // changed a task's state
  int64_t duplicates = 0;   // same state again (fields may have been filled in)
  int64_t stale = 0;        // would have moved a state backwards or out of a terminal state
  int64_t failed = 0;       // store errors other than the above (unknown task, I/O)
  int64_t reconciled = 0;   // state changes made from the reconciler's polls
  int64_t batches = 0;
};

// Told after each durable batch, on the StateSync thread; must not block for long.
struct TaskChange {
  std::string run_id;
  std::string task_id;
  State from = State::kUnknown;
  State to = State::kUnknown;
};

class StateSync final : public exec::EventSink {
 public:
  using Listener = std::function<void(const std::vector<TaskChange>&)>;

  StateSync(store::RunStore& store, const Clock& clock, StateSyncOptions options);
  ~StateSync() override;

  // The executor to poll from the reconciler (set before Start; may be null: no reconciler).
  void SetExecutor(exec::Executor* executor);
  void SetListener(Listener listener);

  Status Start();
  // Applies what is queued, then stops the threads.
  void Stop();

  void OnExecutorEvent(const exec::ExecutorEvent& event) override;

  // Applies `events` now, on the calling thread, in one batch (tests, the reconciler, and
  // callers that must see their events applied before going on).
  void ApplyNow(const std::vector<exec::ExecutorEvent>& events);

  // One reconciler pass now (tests); returns how many tasks it polled.
  Result<int> ReconcileOnce();

  StateSyncCounters Counters() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::service
