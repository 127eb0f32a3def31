#include "service/event_bus.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "store/sqlite/sqlite_run_store.h"

namespace sluice::service {
namespace {

// Counts on_ready calls; lets a test wait for the next one.
class Readiness {
 public:
  std::function<void()> Callback() {
    return [this] {
      std::lock_guard<std::mutex> lock(mu_);
      ++calls_;
      cv_.notify_all();
    };
  }
  bool WaitBeyond(int calls, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return calls_ > calls; });
  }
  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
};

class EventBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sluice-eventbus-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = store::sqlite::SqliteRunStore::Open(dir_ + "/sluice.db", {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  void TearDown() override {
    if (bus_) bus_->Stop();
    bus_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void StartBus(EventBusOptions options = {}) {
    bus_ = std::make_unique<EventBus>(*store_, clock_, options);
    Status started = bus_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  void CreateRun(const std::string& id, store::StringMap tags = {}) {
    store::NewRun run;
    run.id = id;
    run.request.workflow_type = "MOCK";
    run.request.workflow_type_version = "1.0";
    run.request.workflow_url = "mock://t";
    run.request.tags = std::move(tags);
    run.submitted_at = clock_.Now();
    auto r = store_->CreateRun(run);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  void Transition(const std::string& id, State to) {
    store::RunTransition t;
    t.run_id = id;
    t.to = to;
    t.at = clock_.Now();
    if (IsTerminal(to)) t.end_time = t.at;
    auto r = store_->TransitionRun(t);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  // Reads everything the subscription has now.
  static std::vector<store::ChangeEvent> Drain(Subscription& sub) {
    std::vector<store::ChangeEvent> all;
    while (true) {
      auto batch = sub.Read(3);
      EXPECT_TRUE(batch.ok()) << batch.status().ToString();
      if (!batch.ok() || batch->empty()) return all;
      all.insert(all.end(), batch->begin(), batch->end());
    }
  }

  std::string dir_;
  SystemClock clock_;
  std::unique_ptr<store::sqlite::SqliteRunStore> store_;
  std::unique_ptr<EventBus> bus_;
};

TEST(EventFilter, MatchesRunStateAndEveryTag) {
  store::ChangeEvent e;
  e.run_id = "r1";
  e.to = State::kRunning;
  e.tags = {{"project", "x"}, {"user", "ann"}};
  EXPECT_TRUE(EventFilter{}.Matches(e));
  EventFilter f;
  f.run_id = "r1";
  f.states = {State::kComplete, State::kRunning};
  f.tags = {{"project", "x"}};
  EXPECT_TRUE(f.Matches(e));
  f.tags.push_back({"user", "bob"});
  EXPECT_FALSE(f.Matches(e));
  EventFilter other_run;
  other_run.run_id = "r2";
  EXPECT_FALSE(other_run.Matches(e));
  EventFilter ended;
  ended.states = {State::kComplete};
  EXPECT_FALSE(ended.Matches(e));
}

TEST_F(EventBusTest, CommittedEventReachesTheSubscriberWithinMilliseconds) {
  StartBus();
  Readiness ready;
  auto sub = bus_->Subscribe({}, std::nullopt, ready.Callback());
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  // Warm up (first reads open connections), then measure.
  CreateRun("warm");
  ASSERT_TRUE(ready.WaitBeyond(0));
  Drain(**sub);
  int before = ready.calls();
  auto start = std::chrono::steady_clock::now();
  CreateRun("r1");  // returns once committed
  ASSERT_TRUE(ready.WaitBeyond(before));
  auto latency = std::chrono::steady_clock::now() - start;
  // Commit + notification well under the 10 ms budget (generous for a loaded test machine).
  EXPECT_LT(latency, std::chrono::milliseconds(200));
  RecordProperty("commit_to_ready_us", static_cast<int>(
      std::chrono::duration_cast<std::chrono::microseconds>(latency).count()));
  std::vector<store::ChangeEvent> events = Drain(**sub);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().run_id, "r1");
  EXPECT_EQ(events.back().to, State::kQueued);
  EXPECT_EQ((*sub)->Position(), events.back().seq);
}

TEST_F(EventBusTest, NewSubscriptionSeesOnlyEventsFromNowOn) {
  CreateRun("old");
  StartBus();
  Readiness ready;
  auto sub = bus_->Subscribe({}, std::nullopt, ready.Callback());
  ASSERT_TRUE(sub.ok());
  EXPECT_TRUE(Drain(**sub).empty());
  CreateRun("new");
  ASSERT_TRUE(ready.WaitBeyond(0));
  auto events = Drain(**sub);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].run_id, "new");
}

TEST_F(EventBusTest, ResumeAfterLastEventIdHasNoGapAndNoDuplicate) {
  StartBus();
  Readiness ready;
  auto first = bus_->Subscribe({}, std::nullopt, ready.Callback());
  ASSERT_TRUE(first.ok());
  for (int i = 0; i < 5; ++i) CreateRun("r" + std::to_string(i));
  std::vector<store::ChangeEvent> seen;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seen.size() < 5 && std::chrono::steady_clock::now() < deadline) {
    auto more = Drain(**first);
    seen.insert(seen.end(), more.begin(), more.end());
    if (seen.size() < 5) ready.WaitBeyond(ready.calls(), std::chrono::milliseconds(50));
  }
  ASSERT_EQ(seen.size(), 5u);
  // The client saw two, dropped the connection, and comes back with the second's id.
  const int64_t last_event_id = seen[1].seq;
  Readiness again;
  auto resumed = bus_->Subscribe({}, last_event_id, again.Callback());
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  ASSERT_TRUE(again.WaitBeyond(0)) << "a resume backlog is announced at once";
  CreateRun("r5");
  std::vector<store::ChangeEvent> rest;
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rest.size() < 4 && std::chrono::steady_clock::now() < deadline) {
    auto more = Drain(**resumed);
    rest.insert(rest.end(), more.begin(), more.end());
    if (rest.size() < 4) again.WaitBeyond(again.calls(), std::chrono::milliseconds(50));
  }
  ASSERT_EQ(rest.size(), 4u);
  EXPECT_EQ(rest[0].seq, seen[2].seq);
  EXPECT_EQ(rest[2].seq, seen[4].seq);
  EXPECT_EQ(rest[3].run_id, "r5");
  for (size_t i = 1; i < rest.size(); ++i) EXPECT_LT(rest[i - 1].seq, rest[i].seq);
}

TEST_F(EventBusTest, ResumeOlderThanMemoryIsServedFromTheStore) {
  EventBusOptions options;
  options.memory_events = 2;
  StartBus(options);
  Readiness ready;
  auto live = bus_->Subscribe({}, std::nullopt, ready.Callback());
  ASSERT_TRUE(live.ok());
  for (int i = 0; i < 8; ++i) CreateRun("r" + std::to_string(i));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<store::ChangeEvent> seen;
  while (seen.size() < 8 && std::chrono::steady_clock::now() < deadline) {
    auto more = Drain(**live);
    seen.insert(seen.end(), more.begin(), more.end());
    if (seen.size() < 8) ready.WaitBeyond(ready.calls(), std::chrono::milliseconds(50));
  }
  ASSERT_EQ(seen.size(), 8u);
  auto resumed = bus_->Subscribe({}, seen[0].seq, nullptr);
  ASSERT_TRUE(resumed.ok());
  auto rest = Drain(**resumed);
  ASSERT_EQ(rest.size(), 7u);
  for (size_t i = 0; i < rest.size(); ++i) EXPECT_EQ(rest[i].seq, seen[i + 1].seq);
}

TEST_F(EventBusTest, FilterByRunAndStateSkipsOthersButAdvancesThePosition) {
  StartBus();
  CreateRun("a");
  CreateRun("b");
  Readiness ready;
  EventFilter f;
  f.run_id = "a";
  f.states = {State::kComplete};
  auto sub = bus_->Subscribe(f, std::nullopt, ready.Callback());
  ASSERT_TRUE(sub.ok());
  Transition("b", State::kComplete);
  Transition("a", State::kInitializing);
  Transition("a", State::kComplete);
  ASSERT_TRUE(ready.WaitBeyond(0));
  std::vector<store::ChangeEvent> got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (got.empty() && std::chrono::steady_clock::now() < deadline) {
    got = Drain(**sub);
    if (got.empty()) ready.WaitBeyond(ready.calls(), std::chrono::milliseconds(50));
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].run_id, "a");
  EXPECT_EQ(got[0].to, State::kComplete);
  auto bounds = store_->GetOutboxBounds();
  ASSERT_TRUE(bounds.ok());
  EXPECT_EQ((*sub)->Position(), bounds->last_seq);
}

TEST_F(EventBusTest, ResumeFromPrunedEventsIsOutOfRange) {
  CreateRun("a");
  CreateRun("b");
  auto pruned = store_->PruneOutbox(clock_.Now() + kMicrosPerSecond, 1000);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  CreateRun("c");
  StartBus();
  auto sub = bus_->Subscribe({}, 0, nullptr);
  ASSERT_FALSE(sub.ok());
  EXPECT_EQ(sub.status().code(), StatusCode::kOutOfRange);
  // From the newest id, nothing is missing.
  auto bounds = store_->GetOutboxBounds();
  ASSERT_TRUE(bounds.ok());
  EXPECT_TRUE(bus_->Subscribe({}, bounds->last_seq, nullptr).ok());
}

}  // namespace
}  // namespace sluice::service
