// Scheduler: drives runs from QUEUED to a final state.
//
// It claims runs from the store with a lease (so a dead replica's runs are taken over),
// asks each run's WorkflowDriver what to do and records each task before submitting it to the
// executor. Executor events do not come here: StateSync applies them to the store and then
// tells the scheduler (OnTaskChanges, registered by ListenTo) which tasks changed, so it
// frees the slots of ended tasks and looks at their runs again. All writes go through the
// RunStore, so each state change is durable with its history event before anything depends
// on it. When a run ends, the scheduler gives the store the run's usage (RunUsage, from its
// tasks' durations and launch_spec resources) for the stats roll-ups.
//
// Ordering: work for one run is never processed by two threads at once; a run woken while
// it is processed is processed again afterwards, so it sees every change.
//
// Restart: Start() claims the runs this replica owned (and any unowned or expired ones),
// re-attaches every submitted, unfinished task through Executor::Attach, and submits again
// (idempotently) the tasks recorded but maybe never started. No finished task runs again:
// the driver sees it in the store as finished.
//
// Thread-safety: thread-safe. Start/Stop from one thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/thread_annotations.h"
#include "engine/driver.h"
#include "exec/executor.h"
#include "service/run_service.h"
#include "service/state_sync.h"
#include "store/run_store.h"

namespace sluice::service {

struct SchedulerOptions {
  std::string data_dir;          // task directories go under <data_dir>/runs/<run>/tasks/
  std::string owner;             // this replica's id, stable across restarts
  int max_concurrent_tasks = 16;  // server-wide limit on tasks submitted and not ended
  int max_active_runs = 256;     // runs driven at once; the rest wait QUEUED
  int workers = 2;               // threads processing runs
  Micros lease_duration = 30 * kMicrosPerSecond;
  Micros tick = 1 * kMicrosPerSecond;  // claim + lease renewal period
};

class Scheduler final : public RunWaker {
 public:
  Scheduler(store::RunStore& store, const engine::DriverRegistry& drivers,
            exec::Executor& executor, const Clock& clock, SchedulerOptions options);
  ~Scheduler() override;

  // Claims and re-attaches, then starts the worker and ticker threads.
  Status Start();
  // Stops the threads after the run in hand; tasks keep running for the next start.
  void Stop();

  void WakeQueued() override;
  void WakeRun(const std::string& run_id) override;
  // Registers OnTaskChanges as `sync`'s listener (before either starts).
  void ListenTo(StateSync& sync);
  // Told by StateSync after a batch of task changes is durable: frees the slots of tasks
  // that ended and wakes the runs driven here.
  void OnTaskChanges(const std::vector<TaskChange>& changes);

  // Tasks submitted and not yet ended (for metrics and tests).
  int ActiveTasks();

 private:
  void WorkerLoop();
  void TickerLoop();
  // Claims runs up to max_active_runs; adopts the new ones (re-attaching their tasks).
  // `include_owned` (at start) also takes back the runs this replica held before a restart.
  Status ClaimAndAdopt(bool include_owned);
  Status Adopt(const store::RunRecord& run);
  void ProcessRun(const std::string& run_id);
  Status ProcessRunOnce(const std::string& run_id);
  Status ApplyTaskTransition(const store::TaskTransition& t);
  // What a task transition's outcome means here: a stale one (a late or repeated event, or
  // the executor's RUNNING recorded first) is fine; a terminal one frees the task's slot.
  Status Settle(const store::TaskTransition& t, const Result<store::TransitionOutcome>& outcome);
  // The same for several, in one write; the first error other than a stale transition.
  Status ApplyTaskTransitions(const std::vector<store::TaskTransition>& ts);
  Status CancelTasks(const store::RunRecord& run, const std::vector<store::TaskRecord>& tasks);
  // Asks the executor to stop each task of `tasks` that has not ended, then reloads `tasks`.
  // True while any of them still runs; its end wakes the run (OnTaskChanges).
  Result<bool> StopLiveTasks(const store::RunRecord& run, std::vector<store::TaskRecord>& tasks);
  Status StartTasks(const store::RunRecord& run, std::vector<engine::TaskPlan> plans,
                    std::vector<store::TaskRecord>& tasks);
  // `may_exist`: the task was stored by an earlier attempt and may have been submitted
  // (see exec::TaskSpec::may_exist).
  Status SubmitTask(const store::RunRecord& run, const store::TaskRecord& task,
                    const exec::Resources& resources, const std::map<std::string, std::string>& env,
                    bool may_exist);
  // SubmitTask without the write: the transition to record (INITIALIZING with the job id, or
  // SYSTEM_ERROR if the executor refused the task).
  store::TaskTransition SubmitToExecutor(const store::RunRecord& run, const store::TaskRecord& task,
                                         const exec::Resources& resources,
                                         const std::map<std::string, std::string>& env,
                                         bool may_exist);
  Result<std::vector<store::TaskRecord>> LoadTasks(const std::string& run_id);
  void Finish(const std::string& run_id);
  // The usage of a run that ends now, from its tasks (see RunUsage).
  store::RunUsage UsageOf(const std::vector<store::TaskRecord>& tasks) const;
  // Wakes the run at `at` (a driver's timer).
  void WakeRunAt(const std::string& run_id, Micros at) EXCLUDES(mu_);
  // Queues `run_id` for a worker: in `claimed_` when it was just claimed, else in `ready_`
  // (moving it there from `claimed_` if it waits in it).
  void Enqueue(const std::string& run_id, bool just_claimed) EXCLUDES(mu_);
  // Frees the task slot held by run/task, if it holds one, and wakes a run waiting for it.
  void ReleaseSlot(const std::string& run_id, const std::string& task_id) EXCLUDES(mu_);
  // Takes `run_id` out of the slot queue and frees every slot it still holds, when this
  // replica stops driving it: it ended (none of its tasks runs any more), or another replica
  // took it over (and counts its tasks).
  void ReleaseSlotsOf(const std::string& run_id) EXCLUDES(mu_);
  // Takes up to `wanted` slots for `run_id`; returns how many it got.
  int TakeSlots(const std::string& run_id, const std::vector<engine::TaskPlan>& plans,
                size_t wanted) EXCLUDES(mu_);
  exec::JobRef RefOf(const store::TaskRecord& task) const;

  store::RunStore& store_;
  const engine::DriverRegistry& drivers_;
  exec::Executor& executor_;
  const Clock& clock_;
  const SchedulerOptions options_;

  Mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable tick_cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool claim_requested_ GUARDED_BY(mu_) = false;
  // Runs waiting for a worker. Workers take `ready_` (runs with news: a task event, a timer,
  // a cancel, a free slot) before `claimed_` (runs claimed and not looked at yet), so that a
  // run whose task ended is finished at once rather than behind every newly claimed run.
  std::deque<std::string> ready_ GUARDED_BY(mu_);
  std::deque<std::string> claimed_ GUARDED_BY(mu_);
  std::set<std::string> scheduled_ GUARDED_BY(mu_);  // in ready_, in claimed_ or in progress
  std::set<std::string> in_progress_ GUARDED_BY(mu_);
  std::set<std::string> dirty_ GUARDED_BY(mu_);            // woken while in progress
  std::set<std::string> active_runs_ GUARDED_BY(mu_);      // runs this scheduler drives
  std::deque<std::string> waiting_for_slot_ GUARDED_BY(mu_);
  std::set<std::string> cancel_sent_ GUARDED_BY(mu_);      // "run/task" already canceled
  std::set<std::string> slot_holders_ GUARDED_BY(mu_);     // "run/task" holding a task slot
  std::multimap<Micros, std::string> timers_ GUARDED_BY(mu_);  // wake-ups asked by drivers
  bool timers_changed_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace sluice::service
