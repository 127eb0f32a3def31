// The RunStore conformance suite: fixture and the cases for runs, tasks, paging and counts
// (concurrency, claims and leases are in store_conformance_concurrency.cc).
#include "testing/store_conformance.h"

#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "testing/store_conformance_util.h"

namespace sluice::store {

using namespace conformance;  // NOLINT(google-build-using-namespace): test helpers

int RunStoreConformanceLinkAnchor() {
  return RunStoreConcurrencyConformanceAnchor() + RunStoreOutboxConformanceAnchor() +
         RunStoreIndexConformanceAnchor() + RunStoreArchiveConformanceAnchor();
}

void RunStoreConformanceTest::SetUp() {
  std::string pattern = (std::filesystem::temp_directory_path() / "sluice-store-XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  scratch_dir_ = pattern;
  Result<std::unique_ptr<RunStore>> made = GetParam().make(scratch_dir_);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  store_ = std::move(made).value();
}

void RunStoreConformanceTest::TearDown() {
  store_.reset();
  std::error_code ec;
  if (!scratch_dir_.empty()) std::filesystem::remove_all(scratch_dir_, ec);
}

// ---------------------------------------------------------------------------------------
// CreateRun, GetRun, GetRunStatus

TEST_P(RunStoreConformanceTest, CreateRunStoresQueuedRunWithEveryField) {
  NewRun n = MakeRun("r1", 1234, "key-1");
  ASSERT_OK_AND_ASSIGN(CreateRunResult created, store().CreateRun(n));
  EXPECT_EQ(created.run_id, "r1");
  EXPECT_TRUE(created.created);

  ASSERT_OK_AND_ASSIGN(RunRecord run, store().GetRun("r1"));
  EXPECT_EQ(run.id, "r1");
  EXPECT_GT(run.seq, 0);
  EXPECT_EQ(run.request, n.request);
  EXPECT_EQ(run.state, State::kQueued);
  EXPECT_EQ(run.submitted_at, 1234);
  EXPECT_EQ(run.updated_at, 1234);
  EXPECT_FALSE(run.start_time.has_value());
  EXPECT_FALSE(run.end_time.has_value());
  EXPECT_EQ(run.outputs, "{}");
  EXPECT_TRUE(run.system_logs.empty());
  EXPECT_EQ(run.idempotency_key, "key-1");
  EXPECT_EQ(run.owner, "");
  EXPECT_EQ(run.lease_until, 0);

  ASSERT_OK_AND_ASSIGN(RunStatusRow status, store().GetRunStatus("r1"));
  EXPECT_EQ(status.id, "r1");
  EXPECT_EQ(status.state, State::kQueued);
}

TEST_P(RunStoreConformanceTest, CreateRunWithEmptyCollectionsRoundTrips) {
  NewRun n;
  n.id = "bare";
  n.submitted_at = 5;
  ASSERT_OK(store().CreateRun(n));
  ASSERT_OK_AND_ASSIGN(RunRecord run, store().GetRun("bare"));
  EXPECT_EQ(run.request, n.request);
  EXPECT_EQ(run.request.workflow_params, "{}");
  EXPECT_EQ(run.idempotency_key, "");
}

TEST_P(RunStoreConformanceTest, CreateRunAppendsSubmittedHistoryEvent) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 777)));
  ASSERT_OK_AND_ASSIGN(HistoryPage page, store().ListHistory({"r1", 100, std::nullopt}));
  ASSERT_EQ(page.events.size(), 1u);
  const HistoryEvent& e = page.events[0];
  EXPECT_GT(e.seq, 0);
  EXPECT_EQ(e.run_id, "r1");
  EXPECT_EQ(e.task_id, "");
  EXPECT_EQ(e.type, "RunStateChanged");
  EXPECT_EQ(e.from, State::kUnknown);
  EXPECT_EQ(e.to, State::kQueued);
  EXPECT_EQ(e.at, 777);
  EXPECT_EQ(e.reason, "submitted");
  EXPECT_FALSE(page.next_after_seq.has_value());
}

TEST_P(RunStoreConformanceTest, CreateRunWithTakenIdIsAlreadyExistsAndChangesNothing) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  NewRun again = MakeRun("r1", 200);
  again.request.workflow_url = "mock://other";
  EXPECT_CODE(store().CreateRun(again), kAlreadyExists);

  ASSERT_OK_AND_ASSIGN(RunRecord run, store().GetRun("r1"));
  EXPECT_EQ(run.submitted_at, 100);
  EXPECT_EQ(run.request.workflow_url, "mock://a");
  ASSERT_OK_AND_ASSIGN(auto counts, store().CountRunsByState());
  EXPECT_EQ(counts, (std::map<State, int64_t>{{State::kQueued, 1}}));
  ASSERT_OK_AND_ASSIGN(HistoryPage history, store().ListHistory({"r1", 100, std::nullopt}));
  EXPECT_EQ(history.events.size(), 1u);
}

TEST_P(RunStoreConformanceTest, IdempotencyKeyWithSameRequestReturnsFirstRunAndWritesNothing) {
  ASSERT_OK(store().CreateRun(MakeRun("first", 100, "k")));
  ASSERT_OK_AND_ASSIGN(CreateRunResult again, store().CreateRun(MakeRun("second", 200, "k")));
  EXPECT_EQ(again.run_id, "first");
  EXPECT_FALSE(again.created);
  EXPECT_CODE(store().GetRun("second"), kNotFound);
  ASSERT_OK_AND_ASSIGN(RunPage page, store().ListRuns({}));
  EXPECT_EQ(page.runs.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto counts, store().CountRunsByState());
  EXPECT_EQ(counts, (std::map<State, int64_t>{{State::kQueued, 1}}));
  ASSERT_OK_AND_ASSIGN(HistoryPage history, store().ListHistory({"first", 100, std::nullopt}));
  EXPECT_EQ(history.events.size(), 1u);
}

TEST_P(RunStoreConformanceTest, IdempotencyKeyWithDifferentRequestIsConflict) {
  ASSERT_OK(store().CreateRun(MakeRun("first", 100, "k")));
  NewRun other = MakeRun("second", 200, "k");
  other.request.tags["user"] = "bob";
  EXPECT_CODE(store().CreateRun(other), kConflict);
  EXPECT_CODE(store().GetRun("second"), kNotFound);
  ASSERT_OK_AND_ASSIGN(RunPage page, store().ListRuns({}));
  EXPECT_EQ(page.runs.size(), 1u);
}

TEST_P(RunStoreConformanceTest, IdempotencyKeyWinsOverTakenId) {
  // A retried submission may carry the same id; it is still the same run, not a clash.
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100, "k")));
  ASSERT_OK_AND_ASSIGN(CreateRunResult again, store().CreateRun(MakeRun("r1", 100, "k")));
  EXPECT_EQ(again.run_id, "r1");
  EXPECT_FALSE(again.created);
}

TEST_P(RunStoreConformanceTest, RunsWithoutOrWithDistinctKeysAreNeverDeduplicated) {
  ASSERT_OK_AND_ASSIGN(auto a, store().CreateRun(MakeRun("a")));
  ASSERT_OK_AND_ASSIGN(auto b, store().CreateRun(MakeRun("b")));
  ASSERT_OK_AND_ASSIGN(auto c, store().CreateRun(MakeRun("c", 1000, "k1")));
  ASSERT_OK_AND_ASSIGN(auto d, store().CreateRun(MakeRun("d", 1000, "k2")));
  EXPECT_TRUE(a.created && b.created && c.created && d.created);
  ASSERT_OK_AND_ASSIGN(auto counts, store().CountRunsByState());
  EXPECT_EQ(counts[State::kQueued], 4);
}

// CreateRunAsync: what CreateRun would return, delivered once, once the run is durable.

namespace {

// Collects the callbacks of CreateRunAsync calls and waits for them (no sleeps).
class AsyncCreates {
 public:
  // `check`, if set, runs inside the callback (on the store's thread, before `done` returns).
  void Start(RunStore& store, const NewRun& run,
             std::function<void(const Result<CreateRunResult>&)> check = nullptr) {
    size_t slot;
    {
      std::lock_guard<std::mutex> lock(mu_);
      slot = results_.size();
      results_.emplace_back(Status(Internal("not called")));
      calls_.push_back(0);
    }
    store.CreateRunAsync(run, [this, slot, check](Result<CreateRunResult> r) {
      if (check) check(r);
      std::lock_guard<std::mutex> lock(mu_);
      results_[slot] = std::move(r);
      if (++calls_[slot] == 1) ++finished_;
      cv_.notify_all();
    });
  }
  // Waits for every started call and returns their results in start order.
  std::vector<Result<CreateRunResult>> Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return finished_ == results_.size(); });
    return results_;
  }
  // How often each call's callback ran so far.
  std::vector<int> Calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Result<CreateRunResult>> results_;
  std::vector<int> calls_;
  size_t finished_ = 0;
};

}  // namespace

TEST_P(RunStoreConformanceTest, CreateRunAsyncCallsBackOnceWithTheRunAlreadyVisible) {
  AsyncCreates creates;
  std::atomic<bool> visible_in_callback{false};
  creates.Start(store(), MakeRun("r1", 100), [&](const Result<CreateRunResult>&) {
    Result<RunStatusRow> row = store().GetRunStatus("r1");
    visible_in_callback = row.ok() && row->state == State::kQueued;
  });
  std::vector<Result<CreateRunResult>> results = creates.Wait();
  ASSERT_OK(results[0]);
  EXPECT_EQ(results[0]->run_id, "r1");
  EXPECT_TRUE(results[0]->created);
  EXPECT_TRUE(visible_in_callback.load());
  ASSERT_OK_AND_ASSIGN(RunRecord run, store().GetRun("r1"));
  EXPECT_EQ(run.request, SampleRequest());
  ASSERT_OK_AND_ASSIGN(HistoryPage history, store().ListHistory({"r1", 100, std::nullopt}));
  EXPECT_EQ(history.events.size(), 1u);
  // A later write goes through the same queue: a second callback would have run by now.
  ASSERT_OK(store().CreateRun(MakeRun("r2")));
  EXPECT_EQ(creates.Calls(), std::vector<int>{1});
}

TEST_P(RunStoreConformanceTest, CreateRunAsyncDeliversErrorsLikeCreateRun) {
  ASSERT_OK(store().CreateRun(MakeRun("taken", 100, "k")));
  NewRun conflicting = MakeRun("other", 200, "k");
  conflicting.request.tags["user"] = "bob";
  AsyncCreates creates;
  creates.Start(store(), MakeRun(""));
  creates.Start(store(), MakeRun("taken"));
  creates.Start(store(), conflicting);
  std::vector<Result<CreateRunResult>> results = creates.Wait();
  EXPECT_CODE(results[0], kInvalidArgument);
  EXPECT_CODE(results[1], kAlreadyExists);
  EXPECT_CODE(results[2], kConflict);
  EXPECT_CODE(store().GetRun("other"), kNotFound);
  ASSERT_OK_AND_ASSIGN(auto counts, store().CountRunsByState());
  EXPECT_EQ(counts, (std::map<State, int64_t>{{State::kQueued, 1}}));
  EXPECT_EQ(creates.Calls(), (std::vector<int>{1, 1, 1}));
}

TEST_P(RunStoreConformanceTest, CreateRunAsyncIdempotencyKeyBehavesLikeCreateRun) {
  AsyncCreates first;
  first.Start(store(), MakeRun("first", 100, "k"));
  std::vector<Result<CreateRunResult>> firsts = first.Wait();
  ASSERT_OK(firsts[0]);
  // Async after async, and sync after async, both find the first run.
  AsyncCreates again;
  again.Start(store(), MakeRun("second", 200, "k"));
  std::vector<Result<CreateRunResult>> results = again.Wait();
  ASSERT_OK(results[0]);
  EXPECT_EQ(results[0]->run_id, "first");
  EXPECT_FALSE(results[0]->created);
  ASSERT_OK_AND_ASSIGN(CreateRunResult sync, store().CreateRun(MakeRun("third", 300, "k")));
  EXPECT_EQ(sync.run_id, "first");
  EXPECT_FALSE(sync.created);
  EXPECT_CODE(store().GetRun("second"), kNotFound);
  ASSERT_OK_AND_ASSIGN(RunPage page, store().ListRuns({}));
  EXPECT_EQ(page.runs.size(), 1u);
}

TEST_P(RunStoreConformanceTest, ManyCreateRunAsyncInFlightAllLand) {
  // Same key twice in one burst: whichever lands first is the run, the other finds it.
  constexpr int kRuns = 200;
  AsyncCreates creates;
  for (int i = 0; i < kRuns; ++i) creates.Start(store(), MakeRun(RunId(i), 100 + i));
  creates.Start(store(), MakeRun("keyed-a", 1, "dup"));
  creates.Start(store(), MakeRun("keyed-b", 1, "dup"));
  std::vector<Result<CreateRunResult>> results = creates.Wait();
  for (int i = 0; i < kRuns; ++i) {
    ASSERT_OK(results[i]);
    EXPECT_TRUE(results[i]->created);
  }
  ASSERT_OK(results[kRuns]);
  ASSERT_OK(results[kRuns + 1]);
  EXPECT_EQ(results[kRuns]->run_id, results[kRuns + 1]->run_id);
  EXPECT_NE(results[kRuns]->created, results[kRuns + 1]->created);
  ASSERT_OK_AND_ASSIGN(auto counts, store().CountRunsByState());
  EXPECT_EQ(counts, (std::map<State, int64_t>{{State::kQueued, kRuns + 1}}));
}

TEST_P(RunStoreConformanceTest, UnknownRunIsNotFoundEverywhere) {
  ASSERT_OK(store().CreateRun(MakeRun("known")));
  EXPECT_CODE(store().GetRun("nope"), kNotFound);
  EXPECT_CODE(store().GetRunStatus("nope"), kNotFound);
  EXPECT_CODE(store().TransitionRun(To("nope", State::kRunning, 1)), kNotFound);
  EXPECT_CODE(store().CreateTask(MakeTask("nope", "t1")), kNotFound);
  EXPECT_CODE(store().GetTask("nope", "t1"), kNotFound);
  EXPECT_CODE(store().TransitionTask(TaskTo("nope", "t1", State::kRunning, 1)), kNotFound);
  EXPECT_CODE(store().ListTasks({"nope", 10, std::nullopt}), kNotFound);
  EXPECT_CODE(store().ListHistory({"nope", 10, std::nullopt}), kNotFound);
}

TEST_P(RunStoreConformanceTest, MalformedRequestsAreInvalidArgument) {
  ASSERT_OK(store().CreateRun(MakeRun("r1")));
  EXPECT_CODE(store().CreateRun(MakeRun("")), kInvalidArgument);
  EXPECT_CODE(store().CreateTask(MakeTask("r1", "")), kInvalidArgument);
  EXPECT_CODE(store().ListRuns(RunsPage(0)), kInvalidArgument);
  EXPECT_CODE(store().ListTasks({"r1", 0, std::nullopt}), kInvalidArgument);
  EXPECT_CODE(store().ListHistory({"r1", -1, std::nullopt}), kInvalidArgument);
  EXPECT_CODE(store().ClaimRuns({"", 0, 10, 10}), kInvalidArgument);
  EXPECT_CODE(store().RenewLeases("", 10), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(RunRecord run, store().GetRun("r1"));
  EXPECT_EQ(run.owner, "");
}

// ---------------------------------------------------------------------------------------
// TransitionRun

TEST_P(RunStoreConformanceTest, ForwardTransitionUpdatesRowAndAppendsHistory) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  RunTransition t = To("r1", State::kInitializing, 150, "claimed");
  ASSERT_OK_AND_ASSIGN(TransitionOutcome out, store().TransitionRun(t));
  EXPECT_EQ(out.from, State::kQueued);
  EXPECT_TRUE(out.changed);

  t = To("r1", State::kRunning, 200, "driver started");
  t.start_time = 199;
  ASSERT_OK_AND_ASSIGN(out, store().TransitionRun(t));
  EXPECT_EQ(out.from, State::kInitializing);

  ASSERT_OK_AND_ASSIGN(RunRecord run, store().GetRun("r1"));
  EXPECT_EQ(run.state, State::kRunning);
  EXPECT_EQ(run.updated_at, 200);
  EXPECT_EQ(run.start_time, 199);
  EXPECT_FALSE(run.end_time.has_value());
  ASSERT_OK_AND_ASSIGN(RunStatusRow status, store().GetRunStatus("r1"));
  EXPECT_EQ(status.state, State::kRunning);

  ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({"r1", 100, std::nullopt}));
  ASSERT_EQ(h.events.size(), 3u);
  EXPECT_EQ(h.events[1].type, "RunStateChanged");
  EXPECT_EQ(h.events[1].from, State::kQueued);
  EXPECT_EQ(h.events[1].to, State::kInitializing);
  EXPECT_EQ(h.events[1].at, 150);
  EXPECT_EQ(h.events[1].reason, "claimed");
  EXPECT_EQ(h.events[2].from, State::kInitializing);
  EXPECT_EQ(h.events[2].to, State::kRunning);
  EXPECT_EQ(h.events[2].reason, "driver started");
  EXPECT_LT(h.events[0].seq, h.events[1].seq);
  EXPECT_LT(h.events[1].seq, h.events[2].seq);
}

TEST_P(RunStoreConformanceTest, SameStateTransitionChangesNothing) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  RunTransition t = To("r1", State::kRunning, 200);
  t.start_time = 200;
  ASSERT_OK(store().TransitionRun(t));

  RunTransition repeat = To("r1", State::kRunning, 300, "duplicate event");
  repeat.start_time = 300;
  repeat.system_log = "should not be appended";
  ASSERT_OK_AND_ASSIGN(TransitionOutcome out, store().TransitionRun(repeat));
  EXPECT_EQ(out.from, State::kRunning);
  EXPECT_FALSE(out.changed);

  ASSERT_OK_AND_ASSIGN(RunRecord run, store().GetRun("r1"));
  EXPECT_EQ(run.state, State::kRunning);
  EXPECT_EQ(run.start_time, 200);
  EXPECT_EQ(run.updated_at, 200);
  EXPECT_TRUE(run.system_logs.empty());
  ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({"r1", 100, std::nullopt}));
  EXPECT_EQ(h.events.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto counts, store().CountRunsByState());
  EXPECT_EQ(counts, (std::map<State, int64_t>{{State::kRunning, 1}}));
}

TEST_P(RunStoreConformanceTest, SameStateTransitionFillsOnlyMissingFields) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store().TransitionRun(To("r1", State::kRunning, 200)));
  RunTransition late = To("r1", State::kRunning, 250);
  late.start_time = 190;
  late.outputs = R"({"x": 1})";
  ASSERT_OK_AND_ASSIGN(TransitionOutcome out, store().TransitionRun(late));
  EXPECT_FALSE(out.changed);
  ASSERT_OK_AND_ASSIGN(RunRecord run, store().GetRun("r1"));
  EXPECT_EQ(run.start_time, 190);
  EXPECT_EQ(run.outputs, R"({"x": 1})");

  RunTransition later = To("r1", State::kRunning, 260);
  later.start_time = 260;
  later.outputs = R"({"x": 2})";
  ASSERT_OK(store().TransitionRun(later));
  ASSERT_OK_AND_ASSIGN(run, store().GetRun("r1"));
  EXPECT_EQ(run.start_time, 190);
  EXPECT_EQ(run.outputs, R"({"x": 1})");
  ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({"r1", 100, std::nullopt}));
  EXPECT_EQ(h.events.size(), 2u);
}

namespace {
struct BadMove {
  std::vector<State> path;  // from QUEUED, each allowed
  State to;                 // then this, refused
};
}  // namespace

TEST_P(RunStoreConformanceTest, BackwardOrOutOfTerminalIsFailedPreconditionAndChangesNothing) {
  const std::vector<BadMove> cases = {
      {{State::kRunning}, State::kQueued},
      {{State::kRunning}, State::kInitializing},
      {{State::kInitializing}, State::kQueued},
      {{State::kCanceling}, State::kRunning},
      {{State::kCanceling}, State::kPaused},
      {{}, State::kUnknown},
      {{State::kComplete}, State::kRunning},
      {{State::kComplete}, State::kCanceled},
      {{State::kExecutorError}, State::kComplete},
      {{State::kCanceled}, State::kCanceling},
      {{State::kRunning, State::kSystemError}, State::kPreempted},
      {{State::kPreempted}, State::kQueued},
  };
  int n = 0;
  for (const BadMove& c : cases) {
    std::string id = RunId(n++);
    SCOPED_TRACE(id + " -> " + std::string(StateName(c.to)));
    ASSERT_OK(store().CreateRun(MakeRun(id, 100)));
    Micros at = 200;
    for (State s : c.path) {
      RunTransition t = To(id, s, at++);
      t.system_log = "moved";
      ASSERT_OK(store().TransitionRun(t));
    }
    ASSERT_OK_AND_ASSIGN(RunRecord before, store().GetRun(id));
    ASSERT_OK_AND_ASSIGN(auto counts_before, store().CountRunsByState());
    RunTransition bad = To(id, c.to, 999, "late");
    bad.system_log = "must not be appended";
    bad.outputs = R"({"y": 1})";
    bad.end_time = 999;
    EXPECT_CODE(store().TransitionRun(bad), kFailedPrecondition);

    ASSERT_OK_AND_ASSIGN(RunRecord after, store().GetRun(id));
    EXPECT_EQ(after.state, before.state);
    EXPECT_EQ(after.updated_at, before.updated_at);
    EXPECT_EQ(after.system_logs, before.system_logs);
    EXPECT_EQ(after.outputs, "{}");
    EXPECT_FALSE(after.end_time.has_value());
    ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({id, 100, std::nullopt}));
    EXPECT_EQ(h.events.size(), 1 + c.path.size());
    ASSERT_OK_AND_ASSIGN(auto counts_after, store().CountRunsByState());
    EXPECT_EQ(counts_after, counts_before);
  }
}

TEST_P(RunStoreConformanceTest, ExpectedFromIsCompareAndSet) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  RunTransition t = To("r1", State::kInitializing, 200);
  t.expected_from = State::kRunning;
  EXPECT_CODE(store().TransitionRun(t), kConflict);
  ASSERT_OK_AND_ASSIGN(RunStatusRow status, store().GetRunStatus("r1"));
  EXPECT_EQ(status.state, State::kQueued);
  ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({"r1", 100, std::nullopt}));
  EXPECT_EQ(h.events.size(), 1u);

  t.expected_from = State::kQueued;
  ASSERT_OK_AND_ASSIGN(TransitionOutcome out, store().TransitionRun(t));
  EXPECT_TRUE(out.changed);
  // The same CAS again lost its race: the state is no longer QUEUED.
  EXPECT_CODE(store().TransitionRun(t), kConflict);
}

TEST_P(RunStoreConformanceTest, StartAndEndTimesAreSetOnlyOnce) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  RunTransition t = To("r1", State::kRunning, 200);
  t.start_time = 200;
  ASSERT_OK(store().TransitionRun(t));
  t = To("r1", State::kPaused, 300);
  t.start_time = 300;
  ASSERT_OK(store().TransitionRun(t));
  t = To("r1", State::kCanceling, 400);
  t.end_time = 400;
  ASSERT_OK(store().TransitionRun(t));
  t = To("r1", State::kCanceled, 500);
  t.start_time = 500;
  t.end_time = 500;
  ASSERT_OK(store().TransitionRun(t));
  ASSERT_OK_AND_ASSIGN(RunRecord run, store().GetRun("r1"));
  EXPECT_EQ(run.state, State::kCanceled);
  EXPECT_EQ(run.start_time, 200);
  EXPECT_EQ(run.end_time, 400);
  EXPECT_EQ(run.updated_at, 500);
}

TEST_P(RunStoreConformanceTest, SystemLogsAppendAndOutputsAreRecorded) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  RunTransition t = To("r1", State::kRunning, 200);
  t.system_log = "first";
  ASSERT_OK(store().TransitionRun(t));
  t = To("r1", State::kCanceling, 300);
  t.system_log = "cancel requested by \"ana\"";
  ASSERT_OK(store().TransitionRun(t));
  t = To("r1", State::kCanceled, 400);
  t.outputs = R"({"report": "s3://bucket/report.html"})";
  ASSERT_OK(store().TransitionRun(t));
  ASSERT_OK_AND_ASSIGN(RunRecord run, store().GetRun("r1"));
  EXPECT_EQ(run.system_logs, (std::vector<std::string>{"first", "cancel requested by \"ana\""}));
  EXPECT_EQ(run.outputs, R"({"report": "s3://bucket/report.html"})");
}

TEST_P(RunStoreConformanceTest, RunningAndPausedAlternate) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(auto out, store().TransitionRun(To("r1", State::kRunning, 200 + i * 2)));
    EXPECT_TRUE(out.changed);
    ASSERT_OK_AND_ASSIGN(out, store().TransitionRun(To("r1", State::kPaused, 201 + i * 2)));
    EXPECT_TRUE(out.changed);
  }
  ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({"r1", 100, std::nullopt}));
  EXPECT_EQ(h.events.size(), 7u);
}

// ---------------------------------------------------------------------------------------
// Tasks

TEST_P(RunStoreConformanceTest, CreateTaskStoresTaskAndHistory) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  TaskRecord task = MakeTask("r1", "align", 2000);
  ASSERT_OK_AND_ASSIGN(bool created, store().CreateTask(task));
  EXPECT_TRUE(created);
  ASSERT_OK_AND_ASSIGN(TaskRecord got, store().GetTask("r1", "align"));
  EXPECT_EQ(got.run_id, "r1");
  EXPECT_EQ(got.id, "align");
  EXPECT_GT(got.seq, 0);
  EXPECT_EQ(got.name, "step align");
  EXPECT_EQ(got.cmd, task.cmd);
  EXPECT_EQ(got.launch_spec, task.launch_spec);
  EXPECT_EQ(got.state, State::kQueued);
  EXPECT_EQ(got.executor, "local");
  EXPECT_EQ(got.executor_job_id, "");
  EXPECT_FALSE(got.exit_code.has_value());
  EXPECT_FALSE(got.start_time.has_value());
  EXPECT_TRUE(got.system_logs.empty());
  EXPECT_EQ(got.created_at, 2000);
  EXPECT_EQ(got.updated_at, 2000);
  EXPECT_CODE(store().GetTask("r1", "other"), kNotFound);

  ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({"r1", 100, std::nullopt}));
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_EQ(h.events[1].type, "TaskCreated");
  EXPECT_EQ(h.events[1].task_id, "align");
  EXPECT_EQ(h.events[1].from, State::kUnknown);
  EXPECT_EQ(h.events[1].to, State::kQueued);
  EXPECT_EQ(h.events[1].at, 2000);
}

TEST_P(RunStoreConformanceTest, CreateTaskTwiceIsIdempotent) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store().CreateTask(MakeTask("r1", "t1", 2000)));
  TaskRecord again = MakeTask("r1", "t1", 3000);
  again.name = "different";
  ASSERT_OK_AND_ASSIGN(bool created, store().CreateTask(again));
  EXPECT_FALSE(created);
  ASSERT_OK_AND_ASSIGN(TaskRecord got, store().GetTask("r1", "t1"));
  EXPECT_EQ(got.name, "step t1");
  EXPECT_EQ(got.created_at, 2000);
  ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({"r1", 100, std::nullopt}));
  EXPECT_EQ(h.events.size(), 2u);
  ASSERT_OK_AND_ASSIGN(TaskPage tasks, store().ListTasks({"r1", 10, std::nullopt}));
  EXPECT_EQ(tasks.tasks.size(), 1u);
}

TEST_P(RunStoreConformanceTest, CreateTaskOnTerminalRunIsFailedPrecondition) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store().CreateTask(MakeTask("r1", "before")));
  ASSERT_OK(store().TransitionRun(To("r1", State::kComplete, 300)));
  EXPECT_CODE(store().CreateTask(MakeTask("r1", "after")), kFailedPrecondition);
  EXPECT_CODE(store().GetTask("r1", "after"), kNotFound);
  // A replayed create of a task that exists is still just "exists".
  ASSERT_OK_AND_ASSIGN(bool created, store().CreateTask(MakeTask("r1", "before")));
  EXPECT_FALSE(created);
}

TEST_P(RunStoreConformanceTest, CreateTasksStoresEachInOrderWithHistory) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store().CreateRun(MakeRun("r2", 100)));
  ASSERT_OK(store().CreateTask(MakeTask("r1", "old", 1000)));
  ASSERT_OK_AND_ASSIGN(std::vector<bool> created,
                       store().CreateTasks({MakeTask("r1", "a", 2000), MakeTask("r1", "old", 2001),
                                            MakeTask("r1", "b", 2002), MakeTask("r1", "a", 2003),
                                            MakeTask("r2", "a", 2004)}));
  EXPECT_EQ(created, (std::vector<bool>{true, false, true, false, true}));
  ASSERT_OK_AND_ASSIGN(TaskPage tasks, store().ListTasks({"r1", 10, std::nullopt}));
  ASSERT_EQ(tasks.tasks.size(), 3u);
  EXPECT_EQ(tasks.tasks[0].id, "old");
  EXPECT_EQ(tasks.tasks[1].id, "a");
  EXPECT_EQ(tasks.tasks[1].created_at, 2000);  // the first of the two "a" entries
  EXPECT_EQ(tasks.tasks[2].id, "b");
  EXPECT_LT(tasks.tasks[1].seq, tasks.tasks[2].seq);
  ASSERT_OK_AND_ASSIGN(TaskRecord old, store().GetTask("r1", "old"));
  EXPECT_EQ(old.created_at, 1000);
  ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({"r1", 100, std::nullopt}));
  ASSERT_EQ(h.events.size(), 4u);  // submitted, old, a, b
  EXPECT_EQ(h.events[2].type, "TaskCreated");
  EXPECT_EQ(h.events[2].task_id, "a");
  EXPECT_EQ(h.events[3].task_id, "b");
  EXPECT_EQ(h.events[3].at, 2002);
  ASSERT_OK_AND_ASSIGN(TaskRecord other, store().GetTask("r2", "a"));
  EXPECT_EQ(other.created_at, 2004);
  ASSERT_OK_AND_ASSIGN(std::vector<bool> none, store().CreateTasks({}));
  EXPECT_TRUE(none.empty());
}

TEST_P(RunStoreConformanceTest, CreateTasksThatFailsCreatesNone) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store().CreateRun(MakeRun("done", 100)));
  ASSERT_OK(store().TransitionRun(To("done", State::kComplete, 300)));
  EXPECT_CODE(store().CreateTasks({MakeTask("r1", "a"), MakeTask("nope", "t")}), kNotFound);
  EXPECT_CODE(store().CreateTasks({MakeTask("r1", "a"), MakeTask("done", "t")}),
              kFailedPrecondition);
  EXPECT_CODE(store().CreateTasks({MakeTask("r1", "a"), MakeTask("r1", "")}), kInvalidArgument);
  EXPECT_CODE(store().GetTask("r1", "a"), kNotFound);
  ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({"r1", 100, std::nullopt}));
  EXPECT_EQ(h.events.size(), 1u);  // submitted only
  ASSERT_OK_AND_ASSIGN(TaskPage tasks, store().ListTasks({"r1", 10, std::nullopt}));
  EXPECT_TRUE(tasks.tasks.empty());
}

TEST_P(RunStoreConformanceTest, TaskIdsAreScopedToTheirRun) {
  ASSERT_OK(store().CreateRun(MakeRun("r1")));
  ASSERT_OK(store().CreateRun(MakeRun("r2")));
  ASSERT_OK_AND_ASSIGN(bool a, store().CreateTask(MakeTask("r1", "t")));
  ASSERT_OK_AND_ASSIGN(bool b, store().CreateTask(MakeTask("r2", "t")));
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
  ASSERT_OK(store().TransitionTask(TaskTo("r1", "t", State::kRunning, 3000)));
  ASSERT_OK_AND_ASSIGN(TaskRecord t2, store().GetTask("r2", "t"));
  EXPECT_EQ(t2.state, State::kQueued);
  EXPECT_EQ(t2.run_id, "r2");
  ASSERT_OK_AND_ASSIGN(HistoryPage h2, store().ListHistory({"r2", 100, std::nullopt}));
  EXPECT_EQ(h2.events.size(), 2u);
}

TEST_P(RunStoreConformanceTest, TaskTransitionForwardSetsFieldsAndHistory) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store().CreateTask(MakeTask("r1", "t1", 2000)));
  TaskTransition t = TaskTo("r1", "t1", State::kInitializing, 2100, "submitted");
  t.executor_job_id = "job-42";
  ASSERT_OK_AND_ASSIGN(TransitionOutcome out, store().TransitionTask(t));
  EXPECT_EQ(out.from, State::kQueued);
  EXPECT_TRUE(out.changed);
  t = TaskTo("r1", "t1", State::kRunning, 2200, "started");
  t.start_time = 2190;
  ASSERT_OK(store().TransitionTask(t));
  t = TaskTo("r1", "t1", State::kExecutorError, 2300, "exit 3");
  t.exit_code = 3;
  t.end_time = 2300;
  t.start_time = 9999;
  t.system_log = "exited with code 3";
  ASSERT_OK(store().TransitionTask(t));

  ASSERT_OK_AND_ASSIGN(TaskRecord got, store().GetTask("r1", "t1"));
  EXPECT_EQ(got.state, State::kExecutorError);
  EXPECT_EQ(got.executor_job_id, "job-42");
  EXPECT_EQ(got.exit_code, 3);
  EXPECT_EQ(got.start_time, 2190);
  EXPECT_EQ(got.end_time, 2300);
  EXPECT_EQ(got.updated_at, 2300);
  EXPECT_EQ(got.system_logs, std::vector<std::string>{"exited with code 3"});

  ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({"r1", 100, std::nullopt}));
  ASSERT_EQ(h.events.size(), 5u);
  const HistoryEvent& last = h.events.back();
  EXPECT_EQ(last.type, "TaskStateChanged");
  EXPECT_EQ(last.task_id, "t1");
  EXPECT_EQ(last.from, State::kRunning);
  EXPECT_EQ(last.to, State::kExecutorError);
  EXPECT_EQ(last.at, 2300);
  EXPECT_EQ(last.reason, "exit 3");
  // Task events do not touch the run.
  ASSERT_OK_AND_ASSIGN(RunStatusRow status, store().GetRunStatus("r1"));
  EXPECT_EQ(status.state, State::kQueued);
}

TEST_P(RunStoreConformanceTest, SameStateTaskTransitionFillsOnlyMissingFields) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store().CreateTask(MakeTask("r1", "t1", 2000)));
  ASSERT_OK(store().TransitionTask(TaskTo("r1", "t1", State::kComplete, 2100)));

  TaskTransition late = TaskTo("r1", "t1", State::kComplete, 2200, "late event");
  late.executor_job_id = "job-7";
  late.exit_code = 0;
  late.end_time = 2200;
  late.system_log = "not appended";
  ASSERT_OK_AND_ASSIGN(TransitionOutcome out, store().TransitionTask(late));
  EXPECT_EQ(out.from, State::kComplete);
  EXPECT_FALSE(out.changed);
  ASSERT_OK_AND_ASSIGN(TaskRecord got, store().GetTask("r1", "t1"));
  EXPECT_EQ(got.executor_job_id, "job-7");
  EXPECT_EQ(got.exit_code, 0);
  EXPECT_EQ(got.end_time, 2200);
  EXPECT_TRUE(got.system_logs.empty());

  TaskTransition later = TaskTo("r1", "t1", State::kComplete, 2300);
  later.executor_job_id = "job-8";
  later.exit_code = 1;
  later.end_time = 2300;
  ASSERT_OK(store().TransitionTask(later));
  ASSERT_OK_AND_ASSIGN(got, store().GetTask("r1", "t1"));
  EXPECT_EQ(got.executor_job_id, "job-7");
  EXPECT_EQ(got.exit_code, 0);
  EXPECT_EQ(got.end_time, 2200);
  ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({"r1", 100, std::nullopt}));
  EXPECT_EQ(h.events.size(), 3u);  // submitted, created, COMPLETE
}

TEST_P(RunStoreConformanceTest, TaskBackwardOrOutOfTerminalIsFailedPrecondition) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store().CreateTask(MakeTask("r1", "t1")));
  ASSERT_OK(store().TransitionTask(TaskTo("r1", "t1", State::kRunning, 3000)));
  TaskTransition back = TaskTo("r1", "t1", State::kQueued, 3100);
  back.executor_job_id = "job";
  EXPECT_CODE(store().TransitionTask(back), kFailedPrecondition);
  ASSERT_OK(store().TransitionTask(TaskTo("r1", "t1", State::kSystemError, 3200)));
  EXPECT_CODE(store().TransitionTask(TaskTo("r1", "t1", State::kComplete, 3300)),
              kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(TaskRecord got, store().GetTask("r1", "t1"));
  EXPECT_EQ(got.state, State::kSystemError);
  EXPECT_EQ(got.executor_job_id, "");
  EXPECT_EQ(got.updated_at, 3200);
  EXPECT_CODE(store().TransitionTask(TaskTo("r1", "ghost", State::kRunning, 1)), kNotFound);
  ASSERT_OK_AND_ASSIGN(HistoryPage h, store().ListHistory({"r1", 100, std::nullopt}));
  EXPECT_EQ(h.events.size(), 4u);
}

// ---------------------------------------------------------------------------------------
// Paging

TEST_P(RunStoreConformanceTest, ListRunsPagesNewestFirst) {
  for (int i = 0; i < 45; ++i) ASSERT_OK(store().CreateRun(MakeRun(RunId(i), 100 + i)));
  std::vector<std::string> seen;
  std::optional<RunCursor> before;
  int pages = 0;
  int64_t last_seq = std::numeric_limits<int64_t>::max();
  do {
    ASSERT_OK_AND_ASSIGN(RunPage page, store().ListRuns(RunsPage(20, before)));
    ++pages;
    for (const RunRecord& r : page.runs) {
      EXPECT_LT(r.seq, last_seq);
      last_seq = r.seq;
      seen.push_back(r.id);
    }
    if (page.next.has_value()) {
      EXPECT_EQ(page.runs.size(), 20u);
      EXPECT_EQ(page.next->seq, page.runs.back().seq);
    }
    before = page.next;
  } while (before.has_value());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 45u);
  for (int i = 0; i < 45; ++i) EXPECT_EQ(seen[i], RunId(44 - i));
}

TEST_P(RunStoreConformanceTest, ListRunsLastFullPageHasNoToken) {
  ASSERT_OK_AND_ASSIGN(RunPage empty, store().ListRuns(RunsPage(20)));
  EXPECT_TRUE(empty.runs.empty());
  EXPECT_FALSE(empty.next.has_value());
  for (int i = 0; i < 40; ++i) ASSERT_OK(store().CreateRun(MakeRun(RunId(i))));
  ASSERT_OK_AND_ASSIGN(RunPage first, store().ListRuns(RunsPage(20)));
  ASSERT_TRUE(first.next.has_value());
  ASSERT_OK_AND_ASSIGN(RunPage second, store().ListRuns(RunsPage(20, first.next)));
  EXPECT_EQ(second.runs.size(), 20u);
  EXPECT_FALSE(second.next.has_value());
  EXPECT_EQ(second.runs.back().id, RunId(0));
}

TEST_P(RunStoreConformanceTest, ListTasksPagesInCreationOrderWithinOneRun) {
  ASSERT_OK(store().CreateRun(MakeRun("r1")));
  ASSERT_OK(store().CreateRun(MakeRun("r2")));
  for (int i = 0; i < 25; ++i) {
    // Interleaved with another run's tasks, and ids not in creation order.
    ASSERT_OK(store().CreateTask(MakeTask("r1", "t" + std::to_string(100 - i))));
    ASSERT_OK(store().CreateTask(MakeTask("r2", "x" + std::to_string(i))));
  }
  std::vector<std::string> seen;
  std::optional<int64_t> after;
  int pages = 0;
  do {
    ASSERT_OK_AND_ASSIGN(TaskPage page, store().ListTasks({"r1", 10, after}));
    ++pages;
    for (const TaskRecord& t : page.tasks) {
      EXPECT_EQ(t.run_id, "r1");
      EXPECT_GT(t.seq, after.value_or(0));
      seen.push_back(t.id);
    }
    after = page.next_after_seq;
    if (after.has_value()) {
      EXPECT_EQ(*after, page.tasks.back().seq);
    }
  } while (after.has_value());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(seen[i], "t" + std::to_string(100 - i));
}

TEST_P(RunStoreConformanceTest, ListHistoryPagesInAppendOrder) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store().CreateRun(MakeRun("noise", 100)));
  ASSERT_OK(store().TransitionRun(To("r1", State::kInitializing, 101)));
  ASSERT_OK(store().TransitionRun(To("noise", State::kInitializing, 101)));
  ASSERT_OK(store().CreateTask(MakeTask("r1", "t1", 102)));
  ASSERT_OK(store().TransitionTask(TaskTo("r1", "t1", State::kRunning, 103)));
  ASSERT_OK(store().TransitionRun(To("r1", State::kRunning, 104)));
  const std::vector<std::pair<std::string, State>> want = {
      {"RunStateChanged", State::kQueued},
      {"RunStateChanged", State::kInitializing},
      {"TaskCreated", State::kQueued},
      {"TaskStateChanged", State::kRunning},
      {"RunStateChanged", State::kRunning}};
  std::vector<HistoryEvent> seen;
  std::optional<int64_t> after;
  do {
    ASSERT_OK_AND_ASSIGN(HistoryPage page, store().ListHistory({"r1", 2, after}));
    EXPECT_LE(page.events.size(), 2u);
    seen.insert(seen.end(), page.events.begin(), page.events.end());
    after = page.next_after_seq;
  } while (after.has_value());
  ASSERT_EQ(seen.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(seen[i].type, want[i].first) << i;
    EXPECT_EQ(seen[i].to, want[i].second) << i;
    EXPECT_EQ(seen[i].at, 100 + static_cast<Micros>(i)) << i;
    EXPECT_EQ(seen[i].run_id, "r1");
    if (i > 0) {
      EXPECT_GT(seen[i].seq, seen[i - 1].seq);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Engine logs (run events)

namespace {
RunEvent MakeRunEvent(std::string type, Micros at, bool replay) {
  RunEvent e;
  e.type = std::move(type);
  e.at = at;
  e.state_name = "S";
  e.scope = "Map[1]";
  e.details = R"({"k":1})";
  e.replay = replay;
  return e;
}
}  // namespace

TEST_P(RunStoreConformanceTest, RunEventsAreNumberedPerRunAndPageInOrder) {
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  ASSERT_OK(store().CreateRun(MakeRun("r2", 100)));
  ASSERT_OK_AND_ASSIGN(int64_t last, store().AppendRunEvents(
                                         "r1", {MakeRunEvent("Start", 1, true),
                                                MakeRunEvent("PassStateEntered", 2, false)}));
  EXPECT_EQ(last, 2);
  ASSERT_OK_AND_ASSIGN(int64_t other, store().AppendRunEvents("r2", {MakeRunEvent("X", 5, true)}));
  EXPECT_EQ(other, 1);  // numbering is per run
  ASSERT_OK_AND_ASSIGN(last, store().AppendRunEvents("r1", {MakeRunEvent("A", 3, false),
                                                            MakeRunEvent("B", 4, true),
                                                            MakeRunEvent("C", 5, false)}));
  EXPECT_EQ(last, 5);

  std::vector<RunEvent> seen;
  std::optional<int64_t> after;
  do {
    ASSERT_OK_AND_ASSIGN(RunEventPage page, store().ListRunEvents({"r1", 2, after, RunEventFilter::kAll}));
    EXPECT_LE(page.events.size(), 2u);
    seen.insert(seen.end(), page.events.begin(), page.events.end());
    after = page.next_after_seq;
  } while (after.has_value());
  ASSERT_EQ(seen.size(), 5u);
  const std::vector<std::string> types = {"Start", "PassStateEntered", "A", "B", "C"};
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].seq, static_cast<int64_t>(i + 1));
    EXPECT_EQ(seen[i].type, types[i]);
    EXPECT_EQ(seen[i].state_name, "S");
    EXPECT_EQ(seen[i].scope, "Map[1]");
    EXPECT_EQ(seen[i].details, R"({"k":1})");
  }
  EXPECT_EQ(seen[1].at, 2);
  EXPECT_TRUE(seen[0].replay);
  EXPECT_FALSE(seen[1].replay);

  ASSERT_OK_AND_ASSIGN(RunEventPage replay,
                       store().ListRunEvents({"r1", 100, std::nullopt, RunEventFilter::kReplayOnly}));
  ASSERT_EQ(replay.events.size(), 2u);
  EXPECT_EQ(replay.events[0].type, "Start");
  EXPECT_EQ(replay.events[1].type, "B");
  EXPECT_EQ(replay.events[1].seq, 4);
  EXPECT_FALSE(replay.next_after_seq.has_value());
  ASSERT_OK_AND_ASSIGN(RunEventPage derived,
                       store().ListRunEvents({"r1", 2, 1, RunEventFilter::kHistoryOnly}));
  ASSERT_EQ(derived.events.size(), 2u);
  EXPECT_EQ(derived.events[0].type, "PassStateEntered");
  EXPECT_EQ(derived.events[1].type, "A");
  ASSERT_TRUE(derived.next_after_seq.has_value());
  ASSERT_OK_AND_ASSIGN(derived, store().ListRunEvents({"r1", 2, derived.next_after_seq,
                                                       RunEventFilter::kHistoryOnly}));
  ASSERT_EQ(derived.events.size(), 1u);
  EXPECT_EQ(derived.events[0].type, "C");
}

TEST_P(RunStoreConformanceTest, RunEventsOfUnknownRunAreNotFound) {
  EXPECT_CODE(store().AppendRunEvents("nope", {MakeRunEvent("A", 1, false)}), kNotFound);
  EXPECT_CODE(store().ListRunEvents({"nope", 10, std::nullopt, RunEventFilter::kAll}), kNotFound);
  ASSERT_OK(store().CreateRun(MakeRun("r1", 100)));
  EXPECT_CODE(store().ListRunEvents({"r1", 0, std::nullopt, RunEventFilter::kAll}), kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(RunEventPage empty, store().ListRunEvents({"r1", 10, std::nullopt, RunEventFilter::kAll}));
  EXPECT_TRUE(empty.events.empty());
}

// ---------------------------------------------------------------------------------------
// Counts

TEST_P(RunStoreConformanceTest, CountsByStateFollowManyTransitions) {
  // Each run walks a path chosen by its index; refused and repeated moves are mixed in.
  const std::vector<std::vector<State>> paths = {
      {},
      {State::kInitializing},
      {State::kInitializing, State::kRunning},
      {State::kRunning, State::kPaused},
      {State::kRunning, State::kComplete},
      {State::kInitializing, State::kRunning, State::kExecutorError},
      {State::kCanceling, State::kCanceled},
      {State::kSystemError},
      {State::kRunning, State::kPreempted},
  };
  std::map<State, int64_t> want;
  for (int i = 0; i < 54; ++i) {
    std::string id = RunId(i);
    ASSERT_OK(store().CreateRun(MakeRun(id)));
    const auto& path = paths[i % paths.size()];
    Micros at = 2000;
    for (State s : path) {
      ASSERT_OK(store().TransitionRun(To(id, s, at++)));
      ASSERT_OK(store().TransitionRun(To(id, s, at++)));  // repeat: no-op
    }
    (void)store().TransitionRun(To(id, State::kQueued, at++));  // refused unless still QUEUED
    want[path.empty() ? State::kQueued : path.back()]++;
  }
  ASSERT_OK_AND_ASSIGN(auto counts, store().CountRunsByState());
  EXPECT_EQ(counts, want);
  std::map<State, int64_t> observed;
  for (int i = 0; i < 54; ++i) {
    ASSERT_OK_AND_ASSIGN(RunStatusRow s, store().GetRunStatus(RunId(i)));
    observed[s.state]++;
  }
  EXPECT_EQ(observed, want);
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RunStoreConformanceTest);

}  // namespace sluice::store
