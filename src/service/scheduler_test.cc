#include "service/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "engine/mock_driver.h"
#include "service/run_service.h"
#include "testing/fake_executor.h"
#include "testing/fake_run_store.h"

namespace sluice::service {
namespace {

// Waits (bounded) for a condition that background threads make true.
bool WaitUntil(const std::function<bool()>& cond, int timeout_ms = 5000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return cond();
}

class Relay : public exec::EventSink {
 public:
  exec::EventSink* target = nullptr;
  void OnExecutorEvent(const exec::ExecutorEvent& e) override {
    if (target) target->OnExecutorEvent(e);
  }
};

// MOCK's versions and validation; subclasses decide.
class MockLikeDriver : public engine::WorkflowDriver {
 public:
  std::vector<std::string> Versions() const override { return mock_.Versions(); }
  Status Validate(const store::RunRequest& request,
                  const std::vector<engine::SubmittedFile>& files) const override {
    return mock_.Validate(request, files);
  }

 protected:
  engine::MockDriver mock_;
};

// MOCK until `broken` is set; from then on every decision fails, as with a driver bug.
class BreakableMockDriver final : public MockLikeDriver {
 public:
  explicit BreakableMockDriver(const std::atomic<bool>& broken) : broken_(broken) {}
  Result<engine::Decision> Decide(const store::RunRecord& run,
                                  const std::vector<store::TaskRecord>& tasks,
                                  engine::DriverContext& context) const override {
    if (broken_) return Internal("driver bug");
    return mock_.Decide(run, tasks, context);
  }

 private:
  const std::atomic<bool>& broken_;
};

// MOCK, but every decision first waits for a permit, so that a test can hold the worker on
// one run while others queue up.
class GatedMockDriver final : public MockLikeDriver {
 public:
  Result<engine::Decision> Decide(const store::RunRecord& run,
                                  const std::vector<store::TaskRecord>& tasks,
                                  engine::DriverContext& context) const override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++waiting_;
      cv_.wait(lock, [this] { return permits_ > 0; });
      --permits_;
      --waiting_;
      ++decided_;
    }
    return mock_.Decide(run, tasks, context);
  }
  void Allow(int n) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      permits_ += n;
    }
    cv_.notify_all();
  }
  int Waiting() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }
  int Decided() const {
    std::lock_guard<std::mutex> lock(mu_);
    return decided_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable int permits_ = 0;
  mutable int waiting_ = 0;
  mutable int decided_ = 0;
};

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() {
    drivers_.Register("MOCK", std::make_unique<engine::MockDriver>());
    data_dir_ = ::testing::TempDir() + "sched-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  ~SchedulerTest() override {
    if (scheduler_) scheduler_->Stop();
    if (sync_) sync_->Stop();
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
  }

  void StartScheduler(int max_tasks = 16, int workers = 2) {
    SchedulerOptions o;
    o.data_dir = data_dir_;
    o.owner = "replica-a";
    o.max_concurrent_tasks = max_tasks;
    o.workers = workers;
    o.tick = 20'000;
    scheduler_ = std::make_unique<Scheduler>(store_, drivers_, executor_, clock_, o);
    StateSyncOptions so;
    so.data_dir = data_dir_;
    so.reconcile_every = 0;
    sync_ = std::make_unique<StateSync>(store_, clock_, so);
    sync_->SetExecutor(&executor_);
    scheduler_->ListenTo(*sync_);
    ASSERT_TRUE(sync_->Start().ok());
    relay_.target = sync_.get();
    RunServiceOptions ro;
    ro.data_dir = data_dir_;
    runs_ = std::make_unique<RunService>(store_, drivers_, ids_, clock_, *scheduler_, ro);
    ASSERT_TRUE(scheduler_->Start().ok());
  }

  std::string Submit(const std::string& params, const std::string& type = "MOCK") {
    SubmitRequest req;
    req.request.workflow_type = type;
    req.request.workflow_type_version = "1.0";
    req.request.workflow_url = "mock://t";
    req.request.workflow_params = params;
    auto r = runs_->Submit(req);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->run_id : "";
  }

  State RunState(const std::string& id) { return store_.GetRunStatus(id)->state; }
  size_t Started() { return executor_.started().size(); }

  store::FakeRunStore store_;
  Relay relay_;
  exec::FakeExecutor executor_{relay_};
  engine::DriverRegistry drivers_;
  SystemClock clock_;
  RandomIdGenerator ids_;
  std::string data_dir_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<StateSync> sync_;
  std::unique_ptr<RunService> runs_;
};

TEST_F(SchedulerTest, DrivesAMockRunToCompletionWithinParallelism) {
  StartScheduler();
  std::string id = Submit(R"({"tasks": 3, "parallelism": 2})");
  ASSERT_TRUE(WaitUntil([&] { return Started() == 2; }));
  EXPECT_EQ(RunState(id), State::kRunning);
  ASSERT_TRUE(executor_.Finish(id, "task-1", State::kComplete, 0).ok());
  ASSERT_TRUE(WaitUntil([&] { return Started() == 3; }));
  ASSERT_TRUE(executor_.Finish(id, "task-2", State::kComplete, 0).ok());
  ASSERT_TRUE(executor_.Finish(id, "task-3", State::kComplete, 0).ok());
  ASSERT_TRUE(WaitUntil([&] { return RunState(id) == State::kComplete; }));
  auto run = store_.GetRun(id);
  EXPECT_EQ(run->outputs, R"({"tasks_completed":3})");
  EXPECT_TRUE(run->start_time && run->end_time);
  auto history = store_.ListHistory({id, 100, std::nullopt});
  std::vector<State> run_states;
  for (const auto& e : history->events) {
    if (e.task_id.empty()) run_states.push_back(e.to);
  }
  EXPECT_EQ(run_states, (std::vector<State>{State::kQueued, State::kInitializing, State::kRunning,
                                            State::kComplete}));
  EXPECT_EQ(scheduler_->ActiveTasks(), 0);
}

// A run whose task ended is looked at before the runs claimed and not yet looked at: with
// many runs claimed at once, it would otherwise stay RUNNING until every one of them had had
// its first turn (seconds under load, with each first turn starting a task).
TEST_F(SchedulerTest, ARunWithNewsGoesBeforeNewlyClaimedRuns) {
  auto gated = std::make_unique<GatedMockDriver>();
  GatedMockDriver* gate = gated.get();
  drivers_.Register("GATED", std::move(gated));
  StartScheduler(/*max_tasks=*/16, /*workers=*/1);
  std::string first = Submit(R"({"tasks": 1})");
  ASSERT_TRUE(WaitUntil([&] { return Started() == 1; }));
  // The only worker takes the first gated run and waits in its decision; the other two are
  // claimed and wait for the worker.
  std::vector<std::string> gated_runs;
  for (int i = 0; i < 3; ++i) gated_runs.push_back(Submit(R"({"tasks": 1})", "GATED"));
  ASSERT_TRUE(WaitUntil([&] {
    if (gate->Waiting() != 1) return false;
    for (const auto& id : gated_runs) {
      if (store_.GetRun(id)->owner != "replica-a") return false;
    }
    return true;
  }));
  ASSERT_TRUE(executor_.Finish(first, "task-1", State::kComplete, 0).ok());
  // Told of the stored change, the scheduler frees the task's slot and then, in the same
  // call, wakes the run.
  ASSERT_TRUE(WaitUntil([&] { return scheduler_->ActiveTasks() == 0; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  gate->Allow(1);
  EXPECT_TRUE(WaitUntil([&] { return RunState(first) == State::kComplete; }, 2000));
  EXPECT_EQ(gate->Decided(), 1);  // the next gated run still waits for its turn
  gate->Allow(100);
}

TEST_F(SchedulerTest, LateAndRepeatedEventsNeverMoveATaskBack) {
  StartScheduler();
  std::string id = Submit(R"({"tasks": 1})");
  ASSERT_TRUE(WaitUntil([&] { return Started() == 1; }));
  std::string job = *executor_.JobIdFor(id, "task-1");
  ASSERT_TRUE(executor_.Finish(id, "task-1", State::kRunning).ok());
  exec::ExecutorEvent done;
  done.run_id = id;
  done.task_id = "task-1";
  done.job_id = job;
  done.state = State::kComplete;
  done.exit_code = 0;
  done.reason = "exit code 0";
  executor_.Emit(done);
  executor_.Emit(done);
  exec::ExecutorEvent late = done;
  late.state = State::kRunning;
  late.exit_code.reset();
  late.reason = "late";
  executor_.Emit(late);
  ASSERT_TRUE(WaitUntil([&] { return RunState(id) == State::kComplete; }));
  auto task = store_.GetTask(id, "task-1");
  EXPECT_EQ(task->state, State::kComplete);
  EXPECT_EQ(task->exit_code, 0);
  EXPECT_EQ(Started(), 1u);
}

TEST_F(SchedulerTest, ServerWideTaskLimitIsRespected) {
  StartScheduler(/*max_tasks=*/2);
  std::string a = Submit(R"({"tasks": 2, "parallelism": 2})");
  std::string b = Submit(R"({"tasks": 2, "parallelism": 2})");
  ASSERT_TRUE(WaitUntil([&] { return Started() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // give it a chance to exceed
  EXPECT_EQ(Started(), 2u);
  EXPECT_EQ(scheduler_->ActiveTasks(), 2);
  auto first = executor_.started()[0];
  ASSERT_TRUE(executor_.Finish(first.run_id, first.task_id, State::kComplete, 0).ok());
  ASSERT_TRUE(WaitUntil([&] { return Started() == 3; }));
  EXPECT_LE(scheduler_->ActiveTasks(), 2);
}

TEST_F(SchedulerTest, SubmitFailureEndsTheRunSystemError) {
  StartScheduler();
  executor_.FailNextSubmit(IoError("disk full"));
  std::string id = Submit(R"({"tasks": 1})");
  ASSERT_TRUE(WaitUntil([&] { return RunState(id) == State::kSystemError; }));
  auto task = store_.GetTask(id, "task-1");
  EXPECT_EQ(task->state, State::kSystemError);
  ASSERT_FALSE(task->system_logs.empty());
  EXPECT_NE(task->system_logs[0].find("disk full"), std::string::npos);
}

// A turn that fails halfway through starting its tasks gives back the slots it took for the
// ones it did not start: the run may end without them, and a leaked slot would shrink the
// server's task limit for good.
TEST_F(SchedulerTest, SlotsOfTasksNeverStartedAreGivenBack) {
  StartScheduler(/*max_tasks=*/4);
  store_.FailCreateTaskOnce("task-2", Internal("constraint failed"));
  std::string id = Submit(R"({"tasks": 4, "parallelism": 4})");
  // The turn's four tasks are stored in one call, which failed: none was stored or started,
  // and the run ends without them.
  ASSERT_TRUE(WaitUntil([&] { return IsTerminal(RunState(id)); }));
  EXPECT_EQ(RunState(id), State::kSystemError);
  EXPECT_EQ(Started(), 0u);
  EXPECT_EQ(store_.GetTask(id, "task-1").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(WaitUntil([&] { return scheduler_->ActiveTasks() == 0; }))
      << scheduler_->ActiveTasks() << " slots still held";
  // The whole limit is there for the next run.
  std::string next = Submit(R"({"tasks": 4, "parallelism": 4})");
  EXPECT_TRUE(WaitUntil([&] { return Started() == 4; })) << Started() << " tasks started";
  EXPECT_EQ(RunState(next), State::kRunning);
}

// A run waiting for a task slot that ends meanwhile (canceled) must not take the wake-up of
// the next free slot with it: the run waiting behind it gets it.
TEST_F(SchedulerTest, AFreedSlotGoesToALiveWaiterNotToARunThatEnded) {
  StartScheduler(/*max_tasks=*/1);
  std::string a = Submit(R"({"tasks": 1})");
  ASSERT_TRUE(WaitUntil([&] { return Started() == 1; }));
  std::string b = Submit(R"({"tasks": 1})");
  ASSERT_TRUE(WaitUntil([&] { return RunState(b) == State::kInitializing; }));
  std::string c = Submit(R"({"tasks": 1})");
  ASSERT_TRUE(WaitUntil([&] { return RunState(c) == State::kInitializing; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // both asked for a slot
  ASSERT_TRUE(runs_->Cancel(b).ok());
  ASSERT_TRUE(WaitUntil([&] { return RunState(b) == State::kCanceled; }));
  ASSERT_TRUE(executor_.Finish(a, "task-1", State::kComplete, 0).ok());
  EXPECT_TRUE(WaitUntil([&] { return Started() == 2; })) << "c never got the free slot";
  EXPECT_EQ(executor_.started().back().run_id, c);
}

// A run the scheduler gives up on ends SYSTEM_ERROR only once its live tasks are stopped:
// until then it stays active (and, after a crash, re-adopted), so no task outlives it.
TEST_F(SchedulerTest, ARunThatFailsWithLiveTasksStopsThemBeforeEndingSystemError) {
  std::atomic<bool> broken{false};
  drivers_.Register("BREAKABLE", std::make_unique<BreakableMockDriver>(broken));
  StartScheduler();
  SubmitRequest req;
  req.request.workflow_type = "BREAKABLE";
  req.request.workflow_type_version = "1.0";
  req.request.workflow_url = "mock://t";
  req.request.workflow_params = R"({"tasks": 2, "parallelism": 2})";
  auto submitted = runs_->Submit(req);
  ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
  const std::string id = submitted->run_id;
  ASSERT_TRUE(WaitUntil([&] { return Started() == 2; }));
  ASSERT_TRUE(WaitUntil([&] {
    auto t = store_.GetTask(id, "task-2");
    return t.ok() && !t->executor_job_id.empty();
  }));
  broken = true;
  ASSERT_TRUE(executor_.Finish(id, "task-1", State::kComplete, 0).ok());  // wakes the run
  ASSERT_TRUE(WaitUntil([&] { return executor_.cancel_calls().size() == 1; }));
  EXPECT_EQ(executor_.cancel_calls()[0].task_id, "task-2");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(RunState(id), State::kRunning) << "task-2 still runs";
  ASSERT_TRUE(executor_.Finish(id, "task-2", State::kCanceled).ok());
  ASSERT_TRUE(WaitUntil([&] { return RunState(id) == State::kSystemError; }));
  auto run = store_.GetRun(id);
  ASSERT_FALSE(run->system_logs.empty());
  EXPECT_NE(run->system_logs.back().find("driver bug"), std::string::npos);
  EXPECT_EQ(scheduler_->ActiveTasks(), 0);
}

TEST_F(SchedulerTest, RunIsRetriedAfterTheStoreWasBrieflyUnavailable) {
  StartScheduler();
  // The scheduler's first reads of the run fail as with a database that restarts: the run
  // must not be left owned and undriven.
  store_.FailNextGetRuns(3, Unavailable("database unreachable"));
  std::string id = Submit(R"({"tasks": 1})");
  ASSERT_TRUE(WaitUntil([&] { return Started() == 1; }));
  ASSERT_TRUE(executor_.Finish(id, "task-1", State::kComplete, 0).ok());
  ASSERT_TRUE(WaitUntil([&] { return RunState(id) == State::kComplete; }));
}

TEST_F(SchedulerTest, CancelStopsLiveTasksThenEndsCanceled) {
  StartScheduler();
  std::string id = Submit(R"({"tasks": 4, "parallelism": 2})");
  ASSERT_TRUE(WaitUntil([&] { return Started() == 2; }));
  ASSERT_TRUE(runs_->Cancel(id).ok());
  EXPECT_EQ(RunState(id), State::kCanceling);
  ASSERT_TRUE(WaitUntil([&] { return executor_.cancel_calls().size() == 2; }));
  ASSERT_TRUE(executor_.Finish(id, "task-1", State::kCanceled).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(RunState(id), State::kCanceling) << "one task is still alive";
  ASSERT_TRUE(executor_.Finish(id, "task-2", State::kCanceled).ok());
  ASSERT_TRUE(WaitUntil([&] { return RunState(id) == State::kCanceled; }));
  EXPECT_EQ(Started(), 2u) << "no task may start after cancel";
  EXPECT_EQ(runs_->Cancel(id).code(), StatusCode::kFailedPrecondition);
}

TEST_F(SchedulerTest, RestartReattachesInsteadOfResubmitting) {
  StartScheduler();
  std::string id = Submit(R"({"tasks": 2, "parallelism": 2})");
  ASSERT_TRUE(WaitUntil([&] { return Started() == 2; }));
  // A first submission: nothing to look for.
  EXPECT_FALSE(executor_.started()[0].may_exist);
  EXPECT_FALSE(executor_.started()[1].may_exist);
  ASSERT_TRUE(WaitUntil([&] {
    auto t = store_.GetTask(id, "task-2");
    return t.ok() && !t->executor_job_id.empty();
  }));
  ASSERT_TRUE(executor_.Finish(id, "task-1", State::kComplete, 0).ok());
  ASSERT_TRUE(WaitUntil([&] { return store_.GetTask(id, "task-1")->state == State::kComplete; }));
  scheduler_->Stop();
  scheduler_.reset();
  // A new scheduler (same owner, same store): it re-attaches task-2 and never resubmits.
  StartScheduler();
  ASSERT_TRUE(WaitUntil([&] { return executor_.attach_calls().size() == 1; }));
  EXPECT_EQ(executor_.attach_calls()[0].task_id, "task-2");
  ASSERT_TRUE(executor_.Finish(id, "task-2", State::kComplete, 0).ok());
  ASSERT_TRUE(WaitUntil([&] { return RunState(id) == State::kComplete; }));
  EXPECT_EQ(Started(), 2u);
}

TEST_F(SchedulerTest, ARunClaimedByAnotherReplicaAfterItsLeaseExpiredIsLetGo) {
  StartScheduler();
  std::string id = Submit(R"({"tasks": 2, "parallelism": 1})");
  ASSERT_TRUE(WaitUntil([&] { return Started() == 1; }));
  // This replica stalled past its lease, and replica-b claimed the run meanwhile.
  store::ClaimRequest claim;
  claim.owner = "replica-b";
  claim.now = clock_.Now() + 3600 * kMicrosPerSecond;
  claim.lease_until = claim.now + 3600 * kMicrosPerSecond;
  claim.include_owned = false;
  auto taken = store_.ClaimRuns(claim);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  ASSERT_EQ(taken->size(), 1u);
  ASSERT_TRUE(executor_.Finish(id, "task-1", State::kComplete, 0).ok());
  // The task's end is recorded, but the next task is replica-b's to start.
  ASSERT_TRUE(WaitUntil([&] { return store_.GetTask(id, "task-1")->state == State::kComplete; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(Started(), 1u) << "a replica that lost its lease went on driving the run";
  EXPECT_EQ(store_.GetRun(id)->owner, "replica-b");
}

TEST_F(SchedulerTest, ARecordedButUnsubmittedTaskIsSubmittedAfterRestart) {
  // State left by a crash between CreateTask and Submit.
  store::NewRun nr;
  nr.id = "run-crashed";
  nr.request.workflow_type = "MOCK";
  nr.request.workflow_type_version = "1.0";
  nr.request.workflow_url = "mock://t";
  nr.request.workflow_params = R"({"tasks": 1})";
  ASSERT_TRUE(store_.CreateRun(nr).ok());
  store::RunTransition t;
  t.run_id = "run-crashed";
  t.to = State::kInitializing;
  t.reason = "claimed";
  ASSERT_TRUE(store_.TransitionRun(t).ok());
  store::TaskRecord task;
  task.run_id = "run-crashed";
  task.id = "task-1";
  task.cmd = {"/bin/true"};
  task.launch_spec = R"({"env": {"REGION": "chr7"}, "cpus": 4, "memory_mb": 2048})";
  ASSERT_TRUE(store_.CreateTask(task).ok());
  StartScheduler();
  ASSERT_TRUE(WaitUntil([&] { return Started() == 1; }));
  EXPECT_EQ(executor_.started()[0].task_id, "task-1");
  // Submitted as it was planned, not with defaults.
  EXPECT_EQ(executor_.started()[0].env.at("REGION"), "chr7");
  EXPECT_EQ(executor_.started()[0].resources.cpus, 4);
  EXPECT_EQ(executor_.started()[0].resources.memory_mb, 2048);
  // ... and the executor is told that the job may exist already (its id was never stored).
  EXPECT_TRUE(executor_.started()[0].may_exist);
  ASSERT_TRUE(executor_.Finish("run-crashed", "task-1", State::kComplete, 0).ok());
  ASSERT_TRUE(WaitUntil([&] { return RunState("run-crashed") == State::kComplete; }));
  EXPECT_EQ(Started(), 1u);
}

TEST_F(SchedulerTest, FinishedRunReportsItsUsageToTheStats) {
  StartScheduler();
  std::string id = Submit(R"({"tasks": 2, "parallelism": 2})");
  ASSERT_TRUE(WaitUntil([&] { return Started() == 2; }));
  const Micros t0 = clock_.Now();
  for (const char* task : {"task-1", "task-2"}) {
    exec::ExecutorEvent e;
    e.run_id = id;
    e.task_id = task;
    e.job_id = *executor_.JobIdFor(id, task);
    e.state = std::string(task) == "task-1" ? State::kComplete : State::kExecutorError;
    e.exit_code = std::string(task) == "task-1" ? 0 : 2;
    e.start_time = t0;
    e.end_time = t0 + 10 * kMicrosPerSecond;  // 10 s each, 1 CPU (the default)
    executor_.Emit(e);
  }
  ASSERT_TRUE(WaitUntil([&] { return IsTerminal(RunState(id)); }));
  store::StatsQuery q;
  q.from = t0 - 86400 * kMicrosPerSecond;
  q.to = t0 + 86400 * kMicrosPerSecond;
  q.group_by = store::StatsGroupBy::kWorkflowType;
  auto stats = store_.QueryStats(q);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_EQ((*stats)[0].tasks, 2);
  EXPECT_EQ((*stats)[0].tasks_failed, 1);
  EXPECT_DOUBLE_EQ((*stats)[0].cpu_seconds, 20);
  EXPECT_EQ((*stats)[0].task_duration.count, 2);
}

}  // namespace
}  // namespace sluice::service
