#include "service/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/json.h"
#include "common/thread_name.h"

namespace sluice::service {
namespace {

std::string SlotKey(const std::string& run_id, const std::string& task_id) {
  return run_id + "/" + task_id;
}

// What a driver may use while it decides for one run: the run's files and engine log.
class RunDriverContext final : public engine::DriverContext {
 public:
  RunDriverContext(store::RunStore& store, const Clock& clock, const std::string& data_dir,
                   const std::string& run_id)
      : store_(store), clock_(clock), data_dir_(data_dir), run_id_(run_id) {}

  Micros Now() const override { return clock_.Now(); }
  std::string RunDir() const override { return RunService::RunDir(data_dir_, run_id_); }
  std::string TaskDir(const std::string& task_id) const override {
    return RunService::TaskDir(data_dir_, run_id_, task_id);
  }
  Result<std::vector<store::RunEvent>> ReplayEvents() override {
    std::vector<store::RunEvent> all;
    store::RunEventQuery q;
    q.run_id = run_id_;
    q.page_size = 1000;
    q.filter = store::RunEventFilter::kReplayOnly;
    while (true) {
      ASSIGN_OR_RETURN(store::RunEventPage page, store_.ListRunEvents(q));
      for (auto& e : page.events) all.push_back(std::move(e));
      if (!page.next_after_seq) break;
      q.after_seq = page.next_after_seq;
    }
    return all;
  }
  Status AppendEvents(const std::vector<store::RunEvent>& events) override {
    return store_.AppendRunEvents(run_id_, events).status();
  }

 private:
  store::RunStore& store_;
  const Clock& clock_;
  const std::string& data_dir_;
  const std::string& run_id_;
};

// The environment and resources of a task, kept with its record (TaskRecord::launch_spec) so
// that a task recorded but never submitted before a crash is submitted as planned.
std::string EncodeLaunchSpec(const exec::Resources& r, const std::map<std::string, std::string>& env) {
  if (env.empty() && r.cpus == exec::Resources{}.cpus && r.memory_mb == 0 &&
      r.time_limit_seconds == 0) {
    return "";
  }
  Json j = {{"env", env},
            {"cpus", r.cpus},
            {"memory_mb", r.memory_mb},
            {"time_limit_seconds", r.time_limit_seconds}};
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Status DecodeLaunchSpec(const std::string& text, exec::Resources* r,
                        std::map<std::string, std::string>* env) {
  if (text.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(Json j, ParseJson(text, "task launch_spec"));
  try {
    *env = j.value("env", std::map<std::string, std::string>{});
    r->cpus = j.value("cpus", r->cpus);
    r->memory_mb = j.value("memory_mb", r->memory_mb);
    r->time_limit_seconds = j.value("time_limit_seconds", r->time_limit_seconds);
  } catch (const Json::exception& e) {
    return Internal(std::string("task launch_spec: ") + e.what());
  }
  return Status::Ok();
}

}  // namespace

Scheduler::Scheduler(store::RunStore& store, const engine::DriverRegistry& drivers,
                     exec::Executor& executor, const Clock& clock, SchedulerOptions options)
    : store_(store), drivers_(drivers), executor_(executor), clock_(clock), options_(options) {}

Scheduler::~Scheduler() { Stop(); }

Status Scheduler::Start() {
  RETURN_IF_ERROR(ClaimAndAdopt(/*include_owned=*/true));
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
  threads_.emplace_back([this] { TickerLoop(); });
  return Status::Ok();
}

void Scheduler::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  work_cv_.notify_all();
  tick_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Scheduler::WakeQueued() {
  {
    MutexLock lock(mu_);
    claim_requested_ = true;
  }
  tick_cv_.notify_one();
}

void Scheduler::WakeRun(const std::string& run_id) { Enqueue(run_id, /*just_claimed=*/false); }

void Scheduler::Enqueue(const std::string& run_id, bool just_claimed) {
  {
    MutexLock lock(mu_);
    if (!active_runs_.count(run_id)) {
      // Not ours (yet): a cancel of a QUEUED run, or a run another replica drives. A claim
      // pass picks it up if it needs driving.
      claim_requested_ = true;
      tick_cv_.notify_one();
      return;
    }
    if (in_progress_.count(run_id)) {
      dirty_.insert(run_id);
      return;
    }
    if (!scheduled_.insert(run_id).second) {
      // Already queued. News for a run still waiting with the newly claimed (a cancel) moves
      // it ahead of them.
      if (just_claimed) return;
      auto it = std::find(claimed_.begin(), claimed_.end(), run_id);
      if (it == claimed_.end()) return;
      claimed_.erase(it);
    }
    (just_claimed ? claimed_ : ready_).push_back(run_id);
  }
  work_cv_.notify_one();
}

void Scheduler::ListenTo(StateSync& sync) {
  sync.SetListener([this](const std::vector<TaskChange>& changes) { OnTaskChanges(changes); });
}

void Scheduler::OnTaskChanges(const std::vector<TaskChange>& changes) {
  std::vector<std::string> wake;
  for (const auto& c : changes) {
    if (IsTerminal(c.to)) ReleaseSlot(c.run_id, c.task_id);
    if (wake.empty() || wake.back() != c.run_id) wake.push_back(c.run_id);
  }
  std::sort(wake.begin(), wake.end());
  wake.erase(std::unique(wake.begin(), wake.end()), wake.end());
  for (const auto& run_id : wake) {
    {
      MutexLock lock(mu_);
      // Not driven here (ended, or another replica's): nothing to look at again.
      if (!active_runs_.count(run_id)) continue;
    }
    WakeRun(run_id);
  }
}

int Scheduler::ActiveTasks() {
  MutexLock lock(mu_);
  return static_cast<int>(slot_holders_.size());
}

void Scheduler::TickerLoop() {
  NameThisThread("sched-ticker");
  Micros next_tick = clock_.Now() + options_.tick;
  while (true) {
    std::vector<std::string> due;
    bool claim = false;
    bool renew = false;
    {
      MutexLock lock(mu_);
      Micros now = clock_.Now();
      Micros until = next_tick;
      if (!timers_.empty()) until = std::min(until, timers_.begin()->first);
      if (until > now) {
        lock.WaitFor(tick_cv_, std::chrono::microseconds(until - now),
                     [this]() NO_THREAD_SAFETY_ANALYSIS {
                       return stopping_ || claim_requested_ || timers_changed_;
                     });
      }
      if (stopping_) return;
      timers_changed_ = false;
      now = clock_.Now();
      while (!timers_.empty() && timers_.begin()->first <= now) {
        due.push_back(std::move(timers_.begin()->second));
        timers_.erase(timers_.begin());
      }
      renew = now >= next_tick;
      if (renew) next_tick = now + options_.tick;
      claim = renew || claim_requested_;
      claim_requested_ = false;
    }
    for (const auto& run_id : due) WakeRun(run_id);
    // Renew before claiming: adopting a dead replica's runs (re-attaching each of their
    // tasks) can take a while, and this replica's own leases must not wait behind it.
    if (renew) {
      Status st = store_.RenewLeases(options_.owner, clock_.Now() + options_.lease_duration);
      if (!st.ok()) spdlog::warn("scheduler: lease renewal failed: {}", st.ToString());
    }
    if (claim) {
      Status st = ClaimAndAdopt(/*include_owned=*/false);
      if (!st.ok()) spdlog::warn("scheduler: claim failed: {}", st.ToString());
    }
  }
}

void Scheduler::WakeRunAt(const std::string& run_id, Micros at) {
  {
    MutexLock lock(mu_);
    timers_.emplace(at, run_id);
    timers_changed_ = true;
  }
  tick_cv_.notify_one();
}

Status Scheduler::ClaimAndAdopt(bool include_owned) {
  size_t active;
  {
    MutexLock lock(mu_);
    active = active_runs_.size();
  }
  if (static_cast<int>(active) >= options_.max_active_runs) return Status::Ok();
  store::ClaimRequest req;
  req.owner = options_.owner;
  req.now = clock_.Now();
  req.lease_until = req.now + options_.lease_duration;
  req.include_owned = include_owned;
  req.limit = include_owned ? options_.max_active_runs
                            : options_.max_active_runs - static_cast<int>(active);
  ASSIGN_OR_RETURN(std::vector<store::RunRecord> runs, store_.ClaimRuns(req));
  for (const auto& run : runs) {
    {
      MutexLock lock(mu_);
      if (active_runs_.count(run.id)) continue;
      if (static_cast<int>(active_runs_.size()) >= options_.max_active_runs) break;
      active_runs_.insert(run.id);
    }
    Status st = Adopt(run);
    if (!st.ok()) spdlog::error("scheduler: adopting run {}: {}", run.id, st.ToString());
    Enqueue(run.id, /*just_claimed=*/true);
  }
  return Status::Ok();
}

Status Scheduler::Adopt(const store::RunRecord& run) {
  if (run.state == State::kQueued) return Status::Ok();  // nothing started yet
  // The run was driven before (by us before a restart, or by a replica that died):
  // re-attach to every task that was submitted and has not ended.
  ASSIGN_OR_RETURN(std::vector<store::TaskRecord> tasks, LoadTasks(run.id));
  for (const auto& task : tasks) {
    if (IsTerminal(task.state) || task.executor_job_id.empty()) continue;
    {
      MutexLock lock(mu_);
      slot_holders_.insert(SlotKey(run.id, task.id));
    }
    Status st = executor_.Attach(RefOf(task));
    if (st.code() == StatusCode::kNotFound) {
      store::TaskTransition t;
      t.run_id = run.id;
      t.task_id = task.id;
      t.to = State::kSystemError;
      t.at = clock_.Now();
      t.reason = "task lost: the executor has no trace of job " + task.executor_job_id;
      t.system_log = t.reason;
      t.end_time = t.at;
      RETURN_IF_ERROR(ApplyTaskTransition(t));
    } else if (!st.ok()) {
      return st.WithPrefix("re-attaching task " + task.id);
    } else {
      spdlog::info("run {}: re-attached task {} (job {})", run.id, task.id, task.executor_job_id);
    }
  }
  return Status::Ok();
}

void Scheduler::WorkerLoop() {
  NameThisThread("scheduler");
  while (true) {
    std::string run_id;
    {
      MutexLock lock(mu_);
      lock.Wait(work_cv_, [this]() NO_THREAD_SAFETY_ANALYSIS {
        return stopping_ || !ready_.empty() || !claimed_.empty();
      });
      if (stopping_) return;
      std::deque<std::string>& queue = ready_.empty() ? claimed_ : ready_;
      run_id = std::move(queue.front());
      queue.pop_front();
      in_progress_.insert(run_id);
    }
    ProcessRun(run_id);
    bool again;
    {
      MutexLock lock(mu_);
      in_progress_.erase(run_id);
      again = dirty_.erase(run_id) > 0 && active_runs_.count(run_id);
      if (again) {
        ready_.push_back(run_id);
      } else {
        scheduled_.erase(run_id);
      }
    }
    if (again) work_cv_.notify_one();
  }
}

void Scheduler::ProcessRun(const std::string& run_id) {
  Status st = ProcessRunOnce(run_id);
  if (st.ok()) return;
  spdlog::error("run {}: {}", run_id, st.ToString());
  if (st.code() == StatusCode::kIo || st.code() == StatusCode::kUnavailable) {
    // The store is struggling (a database briefly unreachable): try this run again a tick
    // later instead of spinning. It stays ours (its lease is renewed), so nobody else would.
    WakeRunAt(run_id, clock_.Now() + options_.tick);
    return;
  }
  // A problem of this run itself (bad definition that slipped validation, driver bug):
  // end it as SYSTEM_ERROR rather than retrying forever, once its tasks are stopped (as
  // every run ends). Their ends wake the run; if the problem is still there, it comes back
  // here and finds nothing running.
  auto run = store_.GetRun(run_id);
  auto tasks = LoadTasks(run_id);
  if (run.ok() && tasks.ok() && !IsTerminal(run->state)) {
    Result<bool> waiting = StopLiveTasks(*run, *tasks);
    if (waiting.ok() && *waiting) return;
  }
  store::RunTransition t;
  t.run_id = run_id;
  t.to = State::kSystemError;
  t.at = clock_.Now();
  t.end_time = t.at;
  t.reason = st.ToString();
  t.system_log = st.ToString();
  if (tasks.ok()) t.usage = UsageOf(*tasks);
  auto outcome = store_.TransitionRun(t);
  if (!outcome.ok() && outcome.status().code() != StatusCode::kFailedPrecondition) {
    spdlog::error("run {}: cannot record SYSTEM_ERROR: {}", run_id, outcome.status().ToString());
    return;
  }
  Finish(run_id);
}

Status Scheduler::ProcessRunOnce(const std::string& run_id) {
  ASSIGN_OR_RETURN(store::RunRecord run, store_.GetRun(run_id));
  if (!IsTerminal(run.state) && !run.owner.empty() && run.owner != options_.owner) {
    // Another replica claimed the run: this one stalled (paused, cut off) past its lease.
    // The other drives it now; driving it here too could start its next steps twice.
    spdlog::warn("run {}: claimed by {} after this replica's lease on it expired; letting go",
                 run_id, run.owner);
    Finish(run_id);
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(std::vector<store::TaskRecord> tasks, LoadTasks(run_id));

  if (IsTerminal(run.state) || run.state == State::kCanceling) {
    // Stop whatever still runs; a CANCELING run ends CANCELED once nothing does.
    ASSIGN_OR_RETURN(bool waiting, StopLiveTasks(run, tasks));
    if (!waiting) {
      if (run.state == State::kCanceling) {
        // The driver records the stop in its own log first (best effort: a run the user
        // canceled ends CANCELED all the same).
        if (const engine::WorkflowDriver* driver = drivers_.Find(run.request.workflow_type)) {
          RunDriverContext context(store_, clock_, options_.data_dir, run_id);
          if (Status st = driver->Stop(run, context); !st.ok()) {
            spdlog::warn("run {}: cannot record the stop in its engine log: {}", run_id,
                         st.ToString());
          }
        }
        store::RunTransition t;
        t.run_id = run_id;
        t.to = State::kCanceled;
        t.at = clock_.Now();
        t.end_time = t.at;
        t.reason = "all tasks stopped";
        t.usage = UsageOf(tasks);
        auto outcome = store_.TransitionRun(t);
        if (!outcome.ok()) return outcome.status();
      }
      Finish(run_id);
    }
    return Status::Ok();
  }

  const engine::WorkflowDriver* driver = drivers_.Find(run.request.workflow_type);
  if (driver == nullptr) {
    return InvalidArgument("workflow_type " + run.request.workflow_type + " is not supported");
  }

  if (run.state == State::kQueued) {
    store::RunTransition t;
    t.run_id = run_id;
    t.to = State::kInitializing;
    t.expected_from = State::kQueued;
    t.at = clock_.Now();
    t.reason = "claimed by " + options_.owner;
    auto outcome = store_.TransitionRun(t);
    if (!outcome.ok()) {
      // Canceled meanwhile: look again.
      if (outcome.status().code() == StatusCode::kConflict) {
        WakeRun(run_id);
        return Status::Ok();
      }
      return outcome.status();
    }
    run.state = State::kInitializing;
  }

  // Tasks recorded but perhaps never submitted (a crash between the two): submit again.
  // Executors make Submit idempotent per task, so a task that did start is not doubled.
  for (const auto& task : tasks) {
    if (task.state == State::kQueued && task.executor_job_id.empty()) {
      {
        MutexLock lock(mu_);
        slot_holders_.insert(SlotKey(run_id, task.id));
      }
      exec::Resources resources;
      std::map<std::string, std::string> env;
      RETURN_IF_ERROR(DecodeLaunchSpec(task.launch_spec, &resources, &env));
      RETURN_IF_ERROR(SubmitTask(run, task, resources, env, /*may_exist=*/true));
    }
  }

  RunDriverContext context(store_, clock_, options_.data_dir, run_id);
  ASSIGN_OR_RETURN(engine::Decision decision, driver->Decide(run, tasks, context));
  if (!decision.cancel.empty()) {
    std::vector<store::TaskRecord> unwanted;
    for (const auto& t : tasks) {
      if (std::find(decision.cancel.begin(), decision.cancel.end(), t.id) != decision.cancel.end()) {
        unwanted.push_back(t);
      }
    }
    RETURN_IF_ERROR(CancelTasks(run, unwanted));
  }
  if (decision.wake_at) WakeRunAt(run_id, *decision.wake_at);
  if (decision.finish) {
    // A run ends only when none of its tasks runs any more, so no task outlives its run: a
    // crash before then leaves an active run, which the next start re-adopts and stops
    // again. Their ends wake the run, and the driver decides the same finish again.
    ASSIGN_OR_RETURN(bool waiting, StopLiveTasks(run, tasks));
    if (waiting) return Status::Ok();
    store::RunTransition t;
    t.run_id = run_id;
    t.to = *decision.finish;
    t.at = clock_.Now();
    t.start_time = run.start_time ? *run.start_time : t.at;
    t.end_time = t.at;
    t.reason = decision.reason;
    t.outputs = decision.outputs;
    if (*decision.finish != State::kComplete) t.system_log = decision.reason;
    t.usage = UsageOf(tasks);
    auto outcome = store_.TransitionRun(t);
    if (!outcome.ok()) {
      if (outcome.status().code() == StatusCode::kFailedPrecondition) {
        WakeRun(run_id);  // canceled meanwhile
        return Status::Ok();
      }
      return outcome.status();
    }
    Finish(run_id);
    return Status::Ok();
  }
  if (!decision.start.empty()) {
    RETURN_IF_ERROR(StartTasks(run, std::move(decision.start), tasks));
  } else if (run.state == State::kInitializing) {
    // Nothing to start now (a Wait state, a retry back-off): the run has started all the same.
    store::RunTransition t;
    t.run_id = run_id;
    t.to = State::kRunning;
    t.at = clock_.Now();
    t.start_time = t.at;
    t.reason = "workflow started";
    auto outcome = store_.TransitionRun(t);
    if (!outcome.ok() && outcome.status().code() != StatusCode::kFailedPrecondition) {
      return outcome.status();
    }
  }
  return Status::Ok();
}

int Scheduler::TakeSlots(const std::string& run_id, const std::vector<engine::TaskPlan>& plans,
                         size_t wanted) {
  MutexLock lock(mu_);
  int free_slots = options_.max_concurrent_tasks - static_cast<int>(slot_holders_.size());
  int n = std::clamp(free_slots, 0, static_cast<int>(wanted));
  for (int i = 0; i < n; ++i) slot_holders_.insert(SlotKey(run_id, plans[i].task_id));
  if (static_cast<size_t>(n) < wanted &&
      std::find(waiting_for_slot_.begin(), waiting_for_slot_.end(), run_id) ==
          waiting_for_slot_.end()) {
    waiting_for_slot_.push_back(run_id);
  }
  return n;
}

void Scheduler::ReleaseSlot(const std::string& run_id, const std::string& task_id) {
  std::string waiter;
  {
    MutexLock lock(mu_);
    if (slot_holders_.erase(SlotKey(run_id, task_id)) == 0) return;
    if (!waiting_for_slot_.empty()) {
      waiter = waiting_for_slot_.front();
      waiting_for_slot_.pop_front();
    }
  }
  if (!waiter.empty()) WakeRun(waiter);
}

void Scheduler::ReleaseSlotsOf(const std::string& run_id) {
  std::vector<std::string> waiters;
  {
    MutexLock lock(mu_);
    // Out of the queue first: a slot freed later must wake a run that can use it.
    waiting_for_slot_.erase(std::remove(waiting_for_slot_.begin(), waiting_for_slot_.end(), run_id),
                            waiting_for_slot_.end());
    const std::string prefix = run_id + "/";
    for (auto it = slot_holders_.lower_bound(prefix);
         it != slot_holders_.end() && it->rfind(prefix, 0) == 0;) {
      it = slot_holders_.erase(it);
      if (!waiting_for_slot_.empty()) {
        waiters.push_back(std::move(waiting_for_slot_.front()));
        waiting_for_slot_.pop_front();
      }
    }
  }
  for (const std::string& waiter : waiters) WakeRun(waiter);
}

Status Scheduler::StartTasks(const store::RunRecord& run, std::vector<engine::TaskPlan> plans,
                             std::vector<store::TaskRecord>& tasks) {
  int n = TakeSlots(run.id, plans, plans.size());
  // The turn's tasks are stored in one write before any is submitted, and what the
  // submissions gave (job ids) is recorded for all of them in one more: a synced write per
  // task took most of a wide turn. A crash between the two leaves tasks without a job id,
  // which the next start submits again with may_exist (the executor finds the job it already
  // has).
  std::vector<store::TaskRecord> turn;
  turn.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const engine::TaskPlan& plan = plans[i];
    store::TaskRecord task;
    task.run_id = run.id;
    task.id = plan.task_id;
    task.name = plan.name;
    task.cmd = plan.argv;
    task.launch_spec = EncodeLaunchSpec(plan.resources, plan.env);
    task.state = State::kQueued;
    task.executor = executor_.Name();
    task.created_at = clock_.Now();
    task.updated_at = task.created_at;
    turn.push_back(std::move(task));
  }
  if (n > 0) {
    auto created = store_.CreateTasks(turn);
    if (!created.ok()) {
      // None was stored: their slots go back now, since the run may end (SYSTEM_ERROR)
      // without ever creating them.
      for (int i = 0; i < n; ++i) ReleaseSlot(run.id, plans[i].task_id);
      return created.status();
    }
  }
  std::vector<store::TaskTransition> submitted;
  submitted.reserve(turn.size());
  for (int i = 0; i < n; ++i) {
    submitted.push_back(
        SubmitToExecutor(run, turn[i], plans[i].resources, plans[i].env, /*may_exist=*/false));
    tasks.push_back(std::move(turn[i]));
  }
  RETURN_IF_ERROR(ApplyTaskTransitions(submitted));
  if (run.state == State::kInitializing && n > 0) {
    store::RunTransition t;
    t.run_id = run.id;
    t.to = State::kRunning;
    t.at = clock_.Now();
    t.start_time = t.at;
    t.reason = "first task submitted";
    auto outcome = store_.TransitionRun(t);
    if (!outcome.ok() && outcome.status().code() != StatusCode::kFailedPrecondition) {
      return outcome.status();
    }
  }
  return Status::Ok();
}

Status Scheduler::SubmitTask(const store::RunRecord& run, const store::TaskRecord& task,
                             const exec::Resources& resources,
                             const std::map<std::string, std::string>& env, bool may_exist) {
  return ApplyTaskTransition(SubmitToExecutor(run, task, resources, env, may_exist));
}

store::TaskTransition Scheduler::SubmitToExecutor(const store::RunRecord& run,
                                                  const store::TaskRecord& task,
                                                  const exec::Resources& resources,
                                                  const std::map<std::string, std::string>& env,
                                                  bool may_exist) {
  exec::TaskSpec spec;
  spec.run_id = run.id;
  spec.task_id = task.id;
  spec.argv = task.cmd;
  spec.env = env;
  spec.env["SLUICE_RUN_ID"] = run.id;
  spec.env["SLUICE_TASK_ID"] = task.id;
  spec.resources = resources;
  spec.work_dir = RunService::TaskDir(options_.data_dir, run.id, task.id);
  spec.may_exist = may_exist;
  std::error_code ec;
  std::filesystem::create_directories(spec.work_dir, ec);
  auto job = ec ? Result<std::string>(IoError("cannot create " + spec.work_dir + ": " +
                                              ec.message()))
                : executor_.Submit(spec);
  store::TaskTransition t;
  t.run_id = run.id;
  t.task_id = task.id;
  t.at = clock_.Now();
  if (job.ok()) {
    t.to = State::kInitializing;
    t.executor_job_id = *job;
    t.reason = "submitted to " + executor_.Name() + " as job " + *job;
  } else {
    t.to = State::kSystemError;
    t.end_time = t.at;
    t.reason = "could not submit: " + job.status().ToString();
    t.system_log = t.reason;
    WakeRun(run.id);  // no executor event will come: let the driver see the failure
  }
  return t;
}

Status Scheduler::ApplyTaskTransition(const store::TaskTransition& t) {
  return Settle(t, store_.TransitionTask(t));
}

Status Scheduler::Settle(const store::TaskTransition& t,
                         const Result<store::TransitionOutcome>& outcome) {
  if (!outcome.ok()) {
    // A late or repeated event (RUNNING after COMPLETE) is expected: ignore it.
    if (outcome.status().code() == StatusCode::kFailedPrecondition) {
      spdlog::debug("run {} task {}: ignored stale event to {}: {}", t.run_id, t.task_id,
                    StateName(t.to), outcome.status().message());
      return Status::Ok();
    }
    return outcome.status();
  }
  if (IsTerminal(t.to)) ReleaseSlot(t.run_id, t.task_id);
  return Status::Ok();
}

Status Scheduler::ApplyTaskTransitions(const std::vector<store::TaskTransition>& ts) {
  if (ts.empty()) return Status::Ok();
  if (ts.size() == 1) return ApplyTaskTransition(ts.front());
  std::vector<Result<store::TransitionOutcome>> outcomes = store_.TransitionTasks(ts);
  Status first_error;
  for (size_t i = 0; i < ts.size(); ++i) {
    Status st = Settle(ts[i], outcomes[i]);
    if (!st.ok() && first_error.ok()) first_error = st;
  }
  return first_error;
}

Status Scheduler::CancelTasks(const store::RunRecord& run,
                              const std::vector<store::TaskRecord>& tasks) {
  for (const auto& task : tasks) {
    if (IsTerminal(task.state)) continue;
    if (task.executor_job_id.empty()) {
      // Never submitted: nothing to stop.
      store::TaskTransition t;
      t.run_id = run.id;
      t.task_id = task.id;
      t.to = State::kCanceled;
      t.at = clock_.Now();
      t.end_time = t.at;
      t.reason = "run canceled before the task was submitted";
      RETURN_IF_ERROR(ApplyTaskTransition(t));
      continue;
    }
    {
      MutexLock lock(mu_);
      if (!cancel_sent_.insert(SlotKey(run.id, task.id)).second) continue;
    }
    Status st = executor_.Cancel(RefOf(task));
    if (!st.ok()) spdlog::warn("run {} task {}: cancel: {}", run.id, task.id, st.ToString());
  }
  return Status::Ok();
}

Result<bool> Scheduler::StopLiveTasks(const store::RunRecord& run,
                                      std::vector<store::TaskRecord>& tasks) {
  auto any_live = [&tasks] {
    return std::any_of(tasks.begin(), tasks.end(),
                       [](const store::TaskRecord& t) { return !IsTerminal(t.state); });
  };
  if (!any_live()) return false;
  RETURN_IF_ERROR(CancelTasks(run, tasks));
  // Tasks never submitted ended at once (CANCELED); the others end when their executor says.
  ASSIGN_OR_RETURN(tasks, LoadTasks(run.id));
  return any_live();
}

Result<std::vector<store::TaskRecord>> Scheduler::LoadTasks(const std::string& run_id) {
  std::vector<store::TaskRecord> all;
  store::TaskListQuery q;
  q.run_id = run_id;
  q.page_size = 1000;
  while (true) {
    ASSIGN_OR_RETURN(store::TaskPage page, store_.ListTasks(q));
    for (auto& t : page.tasks) all.push_back(std::move(t));
    if (!page.next_after_seq) break;
    q.after_seq = page.next_after_seq;
  }
  return all;
}

void Scheduler::Finish(const std::string& run_id) {
  drivers_.Forget(run_id);
  ReleaseSlotsOf(run_id);
  {
    MutexLock lock(mu_);
    active_runs_.erase(run_id);
    for (auto it = cancel_sent_.lower_bound(run_id + "/");
         it != cancel_sent_.end() && it->rfind(run_id + "/", 0) == 0;) {
      it = cancel_sent_.erase(it);
    }
    claim_requested_ = true;  // room for another run
  }
  tick_cv_.notify_one();
}

store::RunUsage Scheduler::UsageOf(const std::vector<store::TaskRecord>& tasks) const {
  store::RunUsage usage;
  usage.tasks = static_cast<int64_t>(tasks.size());
  for (const auto& task : tasks) {
    if (!IsTerminal(task.state)) continue;
    if (task.state != State::kComplete) ++usage.tasks_failed;
    if (!task.start_time || !task.end_time) continue;
    double seconds =
        static_cast<double>(std::max<Micros>(0, *task.end_time - *task.start_time)) /
        static_cast<double>(kMicrosPerSecond);
    usage.task_seconds.push_back(seconds);
    exec::Resources resources;
    std::map<std::string, std::string> env;
    if (!DecodeLaunchSpec(task.launch_spec, &resources, &env).ok()) resources = exec::Resources{};
    usage.cpu_seconds += resources.cpus * seconds;
    usage.memory_gb_seconds += static_cast<double>(resources.memory_mb) / 1024.0 * seconds;
  }
  return usage;
}

exec::JobRef Scheduler::RefOf(const store::TaskRecord& task) const {
  return exec::JobRef{task.run_id, task.id, task.executor_job_id,
                      RunService::TaskDir(options_.data_dir, task.run_id, task.id)};
}

}  // namespace sluice::service
