#include "service/state_sync.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "store/sqlite/sqlite_run_store.h"
#include "testing/fake_executor.h"

namespace sluice::service {
namespace {

// A real SQLite store in a fresh directory, removed afterwards.
class StateSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sluice-statesync-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = store::sqlite::SqliteRunStore::Open(dir_ + "/sluice.db", {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void CreateRun(const std::string& run_id) {
    store::NewRun run;
    run.id = run_id;
    run.request.workflow_type = "MOCK";
    run.request.workflow_type_version = "1.0";
    run.request.workflow_url = "mock://t";
    run.submitted_at = clock_.Now();
    ASSERT_TRUE(store_->CreateRun(run).ok());
  }

  // The reasons of the task's state changes in its run's history, oldest first.
  std::vector<std::string> TaskHistoryReasons(const std::string& run_id,
                                              const std::string& task_id) {
    store::HistoryQuery query;
    query.run_id = run_id;
    auto history = store_->ListHistory(query);
    EXPECT_TRUE(history.ok()) << history.status().ToString();
    std::vector<std::string> reasons;
    if (!history.ok()) return reasons;
    for (const store::HistoryEvent& e : history->events) {
      if (e.task_id == task_id && e.type == "TaskStateChanged") reasons.push_back(e.reason);
    }
    return reasons;
  }

  void CreateTask(const std::string& run_id, const std::string& task_id,
                  const std::string& job_id = "") {
    store::TaskRecord task;
    task.run_id = run_id;
    task.id = task_id;
    task.cmd = {"true"};
    task.executor = "fake";
    task.created_at = clock_.Now();
    task.updated_at = task.created_at;
    ASSERT_TRUE(store_->CreateTask(task).ok());
    if (!job_id.empty()) {
      store::TaskTransition t;
      t.run_id = run_id;
      t.task_id = task_id;
      t.to = State::kInitializing;
      t.at = clock_.Now();
      t.executor_job_id = job_id;
      ASSERT_TRUE(store_->TransitionTask(t).ok());
    }
  }

  State TaskState(const std::string& run_id, const std::string& task_id) {
    auto task = store_->GetTask(run_id, task_id);
    EXPECT_TRUE(task.ok()) << task.status().ToString();
    return task.ok() ? task->state : State::kUnknown;
  }

  std::string dir_;
  SystemClock clock_;
  std::unique_ptr<store::sqlite::SqliteRunStore> store_;
};

exec::ExecutorEvent Event(const std::string& run_id, const std::string& task_id, State state) {
  exec::ExecutorEvent e;
  e.run_id = run_id;
  e.task_id = task_id;
  e.job_id = "job-" + task_id;
  e.state = state;
  if (IsTerminal(state)) {
    e.exit_code = state == State::kComplete ? 0 : 1;
    e.end_time = 2000;
    if (state != State::kComplete) e.reason = "exit code 1";
  }
  return e;
}

// PROPERTY: whatever the order, repetition and batching of a task's events, its final state
// is the furthest one of its true (forward) sequence, and the counters add up: a late event
// is stale, a repeated one a duplicate, nothing fails.
TEST_F(StateSyncTest, ShuffledAndDuplicatedEventStreamsAlwaysEndInTheFurthestState) {
  const State kTerminals[] = {State::kComplete, State::kExecutorError, State::kSystemError,
                              State::kCanceled};
  constexpr int kRounds = 40;
  constexpr int kTasksPerRound = 6;
  for (int round = 0; round < kRounds; ++round) {
    const unsigned seed = 1000u + static_cast<unsigned>(round);
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    const std::string run_id = "run-" + std::to_string(round);
    CreateRun(run_id);

    // Each task's true life: a forward sequence, maybe without its end yet.
    std::vector<exec::ExecutorEvent> stream;
    std::map<std::string, State> expected;
    for (int i = 0; i < kTasksPerRound; ++i) {
      const std::string task_id = "task-" + std::to_string(i);
      CreateTask(run_id, task_id);
      std::vector<State> life;
      if (rng() % 4 != 0) life.push_back(State::kInitializing);
      if (rng() % 4 != 0) life.push_back(State::kRunning);
      if (rng() % 5 != 0) life.push_back(kTerminals[rng() % 4]);
      expected[task_id] = life.empty() ? State::kQueued : life.back();
      for (State s : life) {
        const int copies = 1 + static_cast<int>(rng() % 3);  // at least once
        for (int c = 0; c < copies; ++c) stream.push_back(Event(run_id, task_id, s));
      }
    }
    std::shuffle(stream.begin(), stream.end(), rng);

    // Fed in random batches: some through the queue, some applied at once.
    StateSyncOptions options;
    options.reconcile_every = 0;
    options.max_batch = 1 + static_cast<int>(rng() % 7);
    StateSync sync(*store_, clock_, options);
    int64_t listened = 0;
    std::map<std::string, State> last_told;
    sync.SetListener([&](const std::vector<TaskChange>& changes) {
      for (const auto& c : changes) {
        ++listened;
        EXPECT_TRUE(IsForwardTransition(c.from, c.to))
            << c.task_id << ": " << StateName(c.from) << " -> " << StateName(c.to);
        last_told[c.task_id] = c.to;
      }
    });
    ASSERT_TRUE(sync.Start().ok());
    for (size_t i = 0; i < stream.size();) {
      size_t n = std::min(stream.size() - i, static_cast<size_t>(1 + rng() % 9));
      std::vector<exec::ExecutorEvent> batch(stream.begin() + static_cast<ptrdiff_t>(i),
                                             stream.begin() + static_cast<ptrdiff_t>(i + n));
      if (rng() % 2 == 0) {
        sync.ApplyNow(batch);
      } else {
        for (const auto& e : batch) sync.OnExecutorEvent(e);
      }
      i += n;
    }
    sync.Stop();  // applies what is queued

    for (const auto& [task_id, want] : expected) {
      EXPECT_EQ(TaskState(run_id, task_id), want) << task_id;
      if (want != State::kQueued) {
        EXPECT_EQ(last_told[task_id], want) << task_id;
      }
    }
    // Queued batches and ApplyNow ones interleave, so the split between applied, stale and
    // duplicate depends on timing: check what holds for every order.
    StateSyncCounters c = sync.Counters();
    EXPECT_EQ(c.received, static_cast<int64_t>(stream.size()));
    EXPECT_EQ(c.failed, 0);
    EXPECT_EQ(c.applied + c.duplicates + c.stale, c.received);
    EXPECT_EQ(c.applied, listened);
    EXPECT_GT(c.batches, 0);
  }
}

// The same property with the order fixed (one thread, ApplyNow only): the counters are
// exactly those the forward-only rule gives.
TEST_F(StateSyncTest, CountersMatchTheForwardOnlyRuleForOneOrder) {
  std::mt19937 rng(7);
  for (int round = 0; round < 30; ++round) {
    const std::string run_id = "r" + std::to_string(round);
    CreateRun(run_id);
    CreateTask(run_id, "t");
    std::vector<State> life = {State::kInitializing, State::kRunning, State::kComplete};
    std::vector<exec::ExecutorEvent> stream;
    for (State s : life) {
      for (int c = 0; c < 1 + static_cast<int>(rng() % 3); ++c) stream.push_back(Event(run_id, "t", s));
    }
    std::shuffle(stream.begin(), stream.end(), rng);
    State cur = State::kQueued;
    int64_t applied = 0, duplicates = 0, stale = 0;
    for (const auto& e : stream) {
      if (e.state == cur) {
        ++duplicates;
      } else if (IsForwardTransition(cur, e.state)) {
        ++applied;
        cur = e.state;
      } else {
        ++stale;
      }
    }
    StateSyncOptions options;
    options.reconcile_every = 0;
    options.max_batch = 1 + static_cast<int>(rng() % 4);
    StateSync sync(*store_, clock_, options);
    sync.ApplyNow(stream);
    EXPECT_EQ(TaskState(run_id, "t"), State::kComplete);
    StateSyncCounters c = sync.Counters();
    EXPECT_EQ(c.applied, applied);
    EXPECT_EQ(c.duplicates, duplicates);
    EXPECT_EQ(c.stale, stale);
    EXPECT_EQ(c.failed, 0);
  }
}

TEST_F(StateSyncTest, LateRunningAfterCompleteIsIgnoredAndCountedStale) {
  CreateRun("r");
  CreateTask("r", "t");
  StateSyncOptions options;
  options.reconcile_every = 0;
  StateSync sync(*store_, clock_, options);
  sync.ApplyNow({Event("r", "t", State::kComplete), Event("r", "t", State::kRunning),
                 Event("r", "t", State::kComplete)});
  auto task = store_->GetTask("r", "t");
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->state, State::kComplete);
  EXPECT_EQ(task->exit_code, 0);
  StateSyncCounters c = sync.Counters();
  EXPECT_EQ(c.applied, 1);
  EXPECT_EQ(c.stale, 1);
  EXPECT_EQ(c.duplicates, 1);
}

TEST_F(StateSyncTest, UnknownTaskCountsAsFailedWithoutStoppingTheBatch) {
  CreateRun("r");
  CreateTask("r", "t");
  StateSyncOptions options;
  options.reconcile_every = 0;
  StateSync sync(*store_, clock_, options);
  sync.ApplyNow({Event("r", "missing", State::kRunning), Event("r", "t", State::kRunning)});
  EXPECT_EQ(TaskState("r", "t"), State::kRunning);
  EXPECT_EQ(sync.Counters().failed, 1);
  EXPECT_EQ(sync.Counters().applied, 1);
}

TEST_F(StateSyncTest, FailedTaskEventKeepsItsReasonInSystemLogs) {
  CreateRun("r");
  CreateTask("r", "t");
  StateSync sync(*store_, clock_, StateSyncOptions{});
  sync.ApplyNow({Event("r", "t", State::kExecutorError)});
  auto task = store_->GetTask("r", "t");
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->state, State::kExecutorError);
  ASSERT_EQ(task->system_logs.size(), 1u);
  EXPECT_EQ(task->system_logs[0], "exit code 1");
}

TEST_F(StateSyncTest, NodeOfTheEventIsRecordedInHistoryAndSystemLogs) {
  CreateRun("r");
  CreateTask("r", "t");
  StateSync sync(*store_, clock_, StateSyncOptions{});
  exec::ExecutorEvent running = Event("r", "t", State::kRunning);
  running.node = "node-7";
  exec::ExecutorEvent failed = Event("r", "t", State::kExecutorError);
  failed.node = "node-7";
  sync.ApplyNow({running, running, failed});
  auto task = store_->GetTask("r", "t");
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->system_logs,
            (std::vector<std::string>{"running on node node-7", "exit code 1 (on node node-7)"}));
  EXPECT_EQ(TaskHistoryReasons("r", "t"),
            (std::vector<std::string>{"job job-t started (on node node-7)",
                                      "exit code 1 (on node node-7)"}));
}

// Every history entry says why, also when the executor gave no reason (a start, exit 0).
TEST_F(StateSyncTest, EventsWithoutAReasonGetOneInHistory) {
  CreateRun("r");
  CreateTask("r", "t");
  StateSync sync(*store_, clock_, StateSyncOptions{});
  sync.ApplyNow({Event("r", "t", State::kRunning), Event("r", "t", State::kComplete)});
  EXPECT_EQ(TaskHistoryReasons("r", "t"),
            (std::vector<std::string>{"job job-t started", "exit code 0"}));
}

TEST_F(StateSyncTest, QueuedEventsReachTheListenerAfterTheyAreDurable) {
  CreateRun("r");
  CreateTask("r", "t");
  StateSyncOptions options;
  options.reconcile_every = 0;
  StateSync sync(*store_, clock_, options);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<TaskChange> seen;
  sync.SetListener([&](const std::vector<TaskChange>& changes) {
    // Durable (and visible) before the listener hears of it.
    for (const auto& c : changes) {
      EXPECT_GE(StateRank(TaskState(c.run_id, c.task_id)), StateRank(c.to));
    }
    std::lock_guard<std::mutex> lock(mu);
    seen.insert(seen.end(), changes.begin(), changes.end());
    cv.notify_all();
  });
  ASSERT_TRUE(sync.Start().ok());
  sync.OnExecutorEvent(Event("r", "t", State::kRunning));
  sync.OnExecutorEvent(Event("r", "t", State::kComplete));
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] {
      return !seen.empty() && seen.back().to == State::kComplete;
    }));
  }
  sync.Stop();
  EXPECT_EQ(seen.front().from, State::kQueued);
  EXPECT_EQ(TaskState("r", "t"), State::kComplete);
}

// An executor's event went missing: the reconciler asks the executor and repairs the task.
TEST_F(StateSyncTest, ReconcilerRepairsAMissedEvent) {
  class NullSink : public exec::EventSink {
   public:
    void OnExecutorEvent(const exec::ExecutorEvent&) override {}
  } lost;  // the executor's events never arrive
  exec::FakeExecutor executor(lost);
  exec::TaskSpec spec;
  spec.run_id = "r";
  spec.task_id = "t";
  spec.argv = {"true"};
  spec.work_dir = dir_ + "/runs/r/tasks/t";
  auto job = executor.Submit(spec);
  ASSERT_TRUE(job.ok());
  CreateRun("r");
  CreateTask("r", "t", *job);
  ASSERT_TRUE(executor.Finish("r", "t", State::kComplete, 0).ok());  // lost on the way
  EXPECT_EQ(TaskState("r", "t"), State::kInitializing);

  StateSyncOptions options;
  options.reconcile_every = 0;
  options.stale_after = 0;
  options.data_dir = dir_;
  StateSync sync(*store_, clock_, options);
  sync.SetExecutor(&executor);
  std::vector<TaskChange> told;
  sync.SetListener([&](const std::vector<TaskChange>& c) {
    told.insert(told.end(), c.begin(), c.end());
  });
  auto polled = sync.ReconcileOnce();
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  EXPECT_EQ(*polled, 1);
  EXPECT_EQ(TaskState("r", "t"), State::kComplete);
  EXPECT_EQ(sync.Counters().reconciled, 1);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].to, State::kComplete);
  // Nothing is stale any more: the next pass asks about nothing.
  polled = sync.ReconcileOnce();
  ASSERT_TRUE(polled.ok());
  EXPECT_EQ(*polled, 0);
}

TEST_F(StateSyncTest, ReconcilerThreadRepairsALostJobAsSystemError) {
  class NullSink : public exec::EventSink {
   public:
    void OnExecutorEvent(const exec::ExecutorEvent&) override {}
  } lost;
  exec::FakeExecutor executor(lost);
  CreateRun("r");
  CreateTask("r", "t", "job-the-executor-never-issued");
  StateSyncOptions options;
  options.reconcile_every = 20'000;
  options.stale_after = 0;
  options.data_dir = dir_;
  StateSync sync(*store_, clock_, options);
  sync.SetExecutor(&executor);
  ASSERT_TRUE(sync.Start().ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (TaskState("r", "t") != State::kSystemError && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  sync.Stop();
  auto task = store_->GetTask("r", "t");
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->state, State::kSystemError);
  ASSERT_FALSE(task->system_logs.empty());
  EXPECT_NE(task->system_logs.back().find("job lost"), std::string::npos);
}

// The applier queues the next batch while the one before is being made durable, and the
// listener still hears of them in order.
TEST_F(StateSyncTest, NextBatchIsQueuedWhileTheOneBeforeIsMadeDurable) {
  CreateRun("r");
  for (int i = 0; i < 3; ++i) CreateTask("r", "t" + std::to_string(i));
  StateSyncOptions options;
  options.reconcile_every = 0;
  options.max_batch = 1;
  StateSync sync(*store_, clock_, options);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> told;
  sync.SetListener([&](const std::vector<TaskChange>& changes) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& c : changes) told.push_back(c.task_id);
    cv.notify_all();
  });
  ASSERT_TRUE(sync.Start().ok());
  auto& writer = store_->writer_for_testing();
  writer.PauseForTesting();
  for (int i = 0; i < 3; ++i)
    sync.OnExecutorEvent(Event("r", "t" + std::to_string(i), State::kRunning));
  // All three batches reach the writer although none has committed yet.
  for (int i = 0; i < 2000 && writer.PendingForTesting() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(writer.PendingForTesting(), 3u);
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(told.empty());
  }
  writer.ResumeForTesting();
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return told.size() == 3; }));
  }
  EXPECT_EQ(told, (std::vector<std::string>{"t0", "t1", "t2"}));
  sync.Stop();
  EXPECT_EQ(sync.Counters().batches, 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(TaskState("r", "t" + std::to_string(i)), State::kRunning);
}

}  // namespace
}  // namespace sluice::service
