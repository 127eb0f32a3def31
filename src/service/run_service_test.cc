#include "service/run_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "engine/driver.h"
#include "engine/mock_driver.h"
#include "store/sqlite/sqlite_run_store.h"
#include "testing/fake_run_store.h"

namespace sluice::service {
namespace {

class CountingWaker : public RunWaker {
 public:
  int queued = 0;
  std::vector<std::string> runs;
  void WakeQueued() override { ++queued; }
  void WakeRun(const std::string& id) override { runs.push_back(id); }
};

class RunServiceTest : public ::testing::Test {
 protected:
  RunServiceTest() {
    drivers_.Register("MOCK", std::make_unique<engine::MockDriver>());
    data_dir_ = ::testing::TempDir() + "runsvc-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name();
    RunServiceOptions o;
    o.data_dir = data_dir_;
    o.limits.max_attachment_bytes = 1000;
    svc_ = std::make_unique<RunService>(store_, drivers_, ids_, clock_, waker_, o);
  }
  ~RunServiceTest() override {
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
  }

  SubmitRequest Mock(const std::string& params = R"({"tasks": 1})") {
    SubmitRequest req;
    req.request.workflow_type = "MOCK";
    req.request.workflow_type_version = "1.0";
    req.request.workflow_url = "mock://t";
    req.request.workflow_params = params;
    return req;
  }

  int64_t StoredRuns() { return store_.ListRuns(store::RunsPage(1000))->runs.size(); }

  store::FakeRunStore store_;
  engine::DriverRegistry drivers_;
  RandomIdGenerator ids_;
  SystemClock clock_;
  CountingWaker waker_;
  std::string data_dir_;
  std::unique_ptr<RunService> svc_;
};

TEST_F(RunServiceTest, SubmitCommitsQueuedAndWakesTheScheduler) {
  auto r = svc_->Submit(Mock());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->created);
  EXPECT_EQ(svc_->GetStatus(r->run_id)->state, State::kQueued);
  EXPECT_EQ(waker_.queued, 1);
}

// Requests each check refuses, and the text the refusal must name.
struct InvalidCase {
  std::function<void(SubmitRequest&)> mutate;
  std::string field;
};
std::vector<InvalidCase> InvalidCases() {
  return {
      {[](SubmitRequest& r) { r.request.workflow_type.clear(); }, "workflow_type: required"},
      {[](SubmitRequest& r) { r.request.workflow_url.clear(); }, "workflow_url: required"},
      {[](SubmitRequest& r) { r.request.workflow_type_version = "2"; }, "workflow_type_version"},
      {[](SubmitRequest& r) { r.request.workflow_params = "[]"; }, "workflow_params"},
      {[](SubmitRequest& r) { r.request.workflow_params = R"({"tasks": 0})"; },
       "workflow_params.tasks"},
      {[](SubmitRequest& r) { r.attachments = {{"../escape", "x"}}; }, "workflow_attachment"},
      {[](SubmitRequest& r) { r.attachments = {{"/etc/passwd", "x"}}; }, "workflow_attachment"},
      {[](SubmitRequest& r) { r.attachments = {{"a//b", "x"}}; }, "workflow_attachment"},
      {[](SubmitRequest& r) { r.request.workflow_engine_version = "1"; }, "workflow_engine"},
  };
}

TEST_F(RunServiceTest, InvalidSubmissionsNameTheFieldAndWriteNothing) {
  std::vector<InvalidCase> cases = InvalidCases();
  for (auto& c : cases) {
    SubmitRequest req = Mock();
    c.mutate(req);
    auto r = svc_->Submit(req);
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.field), std::string::npos) << r.status().message();
  }
  SubmitRequest big = Mock();
  big.attachments = {{"big.bin", std::string(2000, 'x')}};
  EXPECT_EQ(svc_->Submit(big).status().code(), StatusCode::kPayloadTooLarge);
  EXPECT_EQ(StoredRuns(), 0);
  EXPECT_EQ(waker_.queued, 0);
  EXPECT_FALSE(std::filesystem::exists(data_dir_ + "/runs"));
}

TEST_F(RunServiceTest, AttachmentsAreStoredUnderTheRun) {
  SubmitRequest req = Mock();
  req.attachments = {{"inputs/sample sheet.csv", "a,b\n1,2\n"}};
  auto r = svc_->Submit(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::ifstream in(RunService::RunDir(data_dir_, r->run_id) + "/attachments/inputs/sample sheet.csv");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "a,b\n1,2\n");
  EXPECT_EQ(svc_->GetRun(r->run_id)->request.attachments,
            std::vector<std::string>{"inputs/sample sheet.csv"});
}

TEST_F(RunServiceTest, IdempotencyKeyReturnsTheFirstRun) {
  SubmitRequest req = Mock();
  req.idempotency_key = "k1";
  auto a = svc_->Submit(req);
  auto b = svc_->Submit(req);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->run_id, b->run_id);
  EXPECT_FALSE(b->created);
  EXPECT_EQ(StoredRuns(), 1);
}

// SubmitAsync answers through its callback; with the fake store that happens before it
// returns, so each call here is complete once it returns.
Result<store::CreateRunResult> SubmitAsyncAndGet(RunService& svc, SubmitRequest req) {
  int calls = 0;
  Result<store::CreateRunResult> out = Internal("callback not called");
  svc.SubmitAsync(std::move(req), [&](Result<store::CreateRunResult> r) {
    ++calls;
    out = std::move(r);
  });
  EXPECT_EQ(calls, 1);
  return out;
}

TEST_F(RunServiceTest, SubmitAsyncRefusesWhatSubmitRefuses) {
  for (auto& c : InvalidCases()) {
    SubmitRequest req = Mock();
    c.mutate(req);
    auto r = SubmitAsyncAndGet(*svc_, req);
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.field), std::string::npos) << r.status().message();
  }
  SubmitRequest big = Mock();
  big.attachments = {{"big.bin", std::string(2000, 'x')}};
  EXPECT_EQ(SubmitAsyncAndGet(*svc_, big).status().code(), StatusCode::kPayloadTooLarge);
  SubmitRequest long_key = Mock();
  long_key.idempotency_key = std::string(256, 'k');
  EXPECT_EQ(SubmitAsyncAndGet(*svc_, long_key).status().code(), StatusCode::kInvalidArgument);
  // Valid attachments need blocking file writes: SubmitAsync leaves them to Submit.
  SubmitRequest with_files = Mock();
  with_files.attachments = {{"ok.txt", "x"}};
  EXPECT_EQ(SubmitAsyncAndGet(*svc_, with_files).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(StoredRuns(), 0);
  EXPECT_EQ(waker_.queued, 0);
  EXPECT_FALSE(std::filesystem::exists(data_dir_ + "/runs"));
}

TEST_F(RunServiceTest, SubmitAsyncWakesTheSchedulerBeforeAnswering) {
  int queued_when_answered = -1;
  bool visible_when_answered = false;
  SubmitRequest req = Mock();
  req.idempotency_key = "k1";
  svc_->SubmitAsync(req, [&](Result<store::CreateRunResult> r) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->created);
    queued_when_answered = waker_.queued;
    visible_when_answered = svc_->GetStatus(r->run_id).ok();
  });
  EXPECT_EQ(queued_when_answered, 1);
  EXPECT_TRUE(visible_when_answered);
  // A repeat with the same key finds the first run and wakes nobody.
  auto again = SubmitAsyncAndGet(*svc_, req);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(waker_.queued, 1);
  EXPECT_EQ(StoredRuns(), 1);
}

TEST_F(RunServiceTest, ListPagesWithOpaqueTokens) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(svc_->Submit(Mock())->run_id);
  auto p1 = svc_->ListRuns(2, "");
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->runs.size(), 2u);
  EXPECT_EQ(p1->runs[0].id, ids[4]);
  ASSERT_FALSE(p1->next_page_token.empty());
  auto p2 = svc_->ListRuns(2, p1->next_page_token);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(p2->runs[0].id, ids[2]);
  auto p3 = svc_->ListRuns(2, p2->next_page_token);
  ASSERT_EQ(p3->runs.size(), 1u);
  EXPECT_TRUE(p3->next_page_token.empty());
  EXPECT_EQ(svc_->ListRuns(2, "v1zz").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(svc_->ListRuns(-1, "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(svc_->ListRuns(100000, "").status().code(), StatusCode::kInvalidArgument);
}

TEST(PageToken, RoundTripsAndRejectsForgeries) {
  for (int64_t seq : {int64_t{0}, int64_t{1}, int64_t{123456789}, int64_t{1} << 50}) {
    auto d = DecodePageToken(EncodePageToken(seq), "page_token");
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, seq);
  }
  for (const char* bad : {"", "v1", "abc", "v2000000000000000a", "v1000000000000000G"}) {
    auto d = DecodePageToken(bad, "page_token");
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(d.status().message().find("page_token"), std::string::npos);
  }
}

TEST_F(RunServiceTest, CancelQueuedEndsAtOnceAndEndedRunsRefuse) {
  auto r = svc_->Submit(Mock());
  ASSERT_TRUE(svc_->Cancel(r->run_id).ok());
  EXPECT_EQ(svc_->GetStatus(r->run_id)->state, State::kCanceled);
  EXPECT_EQ(svc_->Cancel(r->run_id).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(svc_->Cancel("nope").code(), StatusCode::kNotFound);
}

TEST_F(RunServiceTest, TasksOfAnUnknownRunAreNotFound) {
  EXPECT_EQ(svc_->ListTasks("nope", 0, "").status().code(), StatusCode::kNotFound);
  auto r = svc_->Submit(Mock());
  auto page = svc_->ListTasks(r->run_id, 0, "");
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->tasks.empty());
  EXPECT_EQ(svc_->TaskLogPath(r->run_id, "task-1", "stdout").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(svc_->TaskLogPath(r->run_id, "task-1", "passwd").status().code(),
            StatusCode::kNotFound);
}

// --- Listing with filters, tags, deletion, stats ---

TEST_F(RunServiceTest, SubmitterIsTheUserTagOrAnonymous) {
  SubmitRequest tagged = Mock();
  tagged.request.tags = {{"user", "ann"}};
  auto a = svc_->Submit(tagged);
  auto b = svc_->Submit(Mock());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(svc_->GetRun(a->run_id)->user, "ann");
  EXPECT_EQ(svc_->GetRun(b->run_id)->user, "anonymous");
}

// Several filter dimensions give an estimated total; correlated ones (a user who works in
// one project) are what independence gets wrong, so the estimate is bounded by each
// dimension's exact count and by the page itself.
TEST_F(RunServiceTest, EstimatedTotalsAgreeWithWhatThePageShows) {
  // The SQLite store, which estimates (the fake counts exactly).
  std::filesystem::create_directories(data_dir_);
  auto store = store::sqlite::SqliteRunStore::Open(data_dir_ + "/estimate.db", {});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  RunServiceOptions o;
  o.data_dir = data_dir_;
  auto svc = std::make_unique<RunService>(**store, drivers_, ids_, clock_, waker_, o);
  for (int i = 0; i < 12; ++i) {
    SubmitRequest req = Mock();
    std::string user = i < 6 ? "ann" : "u" + std::to_string(i);
    req.request.tags = {{"user", user}, {"project", i < 6 ? "p1" : "p" + std::to_string(i)}};
    ASSERT_TRUE(svc->Submit(req).ok());
  }
  RunListRequest single;
  single.filter.user = "ann";
  single.total = true;
  auto exact = svc->ListRuns(single);
  ASSERT_TRUE(exact.ok());
  EXPECT_TRUE(exact->total->exact);
  EXPECT_EQ(exact->total->count, 6);
  RunListRequest req;
  req.filter.user = "ann";
  req.filter.tags = {{"project", "p1"}};
  req.total = true;
  req.page_size = 4;
  // Independence alone: 12 * (6/12) * (6/12) = 3, fewer than the first page shows.
  auto first = svc->ListRuns(req);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->runs.size(), 4u);
  ASSERT_FALSE(first->next_page_token.empty());
  ASSERT_TRUE(first->total.has_value());
  EXPECT_FALSE(first->total->exact);
  EXPECT_GE(first->total->count, 5);
  EXPECT_LE(first->total->count, 6);  // never above the user's (or the project's) own count
  // One page holds them all: the total is exact.
  req.page_size = 10;
  auto all = svc->ListRuns(req);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->runs.size(), 6u);
  EXPECT_TRUE(all->next_page_token.empty());
  EXPECT_TRUE(all->total->exact);
  EXPECT_EQ(all->total->count, 6);
}

TEST(EstimateMatchingRunsTest, IndependenceBoundedByEachDimension) {
  EXPECT_EQ(store::EstimateMatchingRuns(100, {50, 20}), 10);
  EXPECT_EQ(store::EstimateMatchingRuns(100, {50, 20}, 0.5), 5);
  EXPECT_EQ(store::EstimateMatchingRuns(100, {100, 3}), 3);
  EXPECT_EQ(store::EstimateMatchingRuns(0, {0, 0}), 0);
  EXPECT_EQ(store::EstimateMatchingRuns(10, {0, 7}), 0);
}

TEST_F(RunServiceTest, FilteredListPagesThroughWithTokensTiedToTheFilter) {
  for (int i = 0; i < 5; ++i) {
    SubmitRequest req = Mock();
    req.request.tags = {{"project", i % 2 == 0 ? "even" : "odd"}};
    ASSERT_TRUE(svc_->Submit(req).ok());
  }
  RunListRequest req;
  req.page_size = 2;
  req.filter.tags = {{"project", "even"}};
  req.total = true;
  auto first = svc_->ListRuns(req);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->runs.size(), 2u);
  ASSERT_TRUE(first->total.has_value());
  EXPECT_EQ(first->total->count, 3);
  ASSERT_FALSE(first->next_page_token.empty());
  req.page_token = first->next_page_token;
  auto second = svc_->ListRuns(req);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_EQ(second->runs.size(), 1u);
  EXPECT_TRUE(second->next_page_token.empty());
  EXPECT_GT(first->runs[1].seq, second->runs[0].seq) << "newest first";
  for (const auto& r : second->runs) EXPECT_EQ(r.request.tags.at("project"), "even");

  // The token is refused with another filter, or another sort.
  RunListRequest other = req;
  other.filter.tags = {{"project", "odd"}};
  auto refused = svc_->ListRuns(other);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("page_token"), std::string::npos);
  RunListRequest resorted = req;
  resorted.sort = store::RunSort::kSubmittedAsc;
  EXPECT_EQ(svc_->ListRuns(resorted).status().code(), StatusCode::kInvalidArgument);
  RunListRequest garbage = req;
  garbage.page_token = "v2zz";
  EXPECT_EQ(svc_->ListRuns(garbage).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(RunServiceTest, FilterTokenDoesNotDependOnTheOrderOfStatesAndTags) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(svc_->Submit(Mock()).ok());
  RunListRequest req;
  req.page_size = 1;
  req.filter.states = {State::kQueued, State::kRunning};
  auto first = svc_->ListRuns(req);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_FALSE(first->next_page_token.empty());
  req.filter.states = {State::kRunning, State::kQueued};
  req.page_token = first->next_page_token;
  EXPECT_TRUE(svc_->ListRuns(req).ok());
}

TEST_F(RunServiceTest, InvalidListRequestsNameTheField) {
  RunListRequest size;
  size.page_size = 100000;
  EXPECT_NE(svc_->ListRuns(size).status().message().find("page_size"), std::string::npos);
  RunListRequest range;
  range.filter.submitted_after = 2000;
  range.filter.submitted_before = 1000;
  auto r = svc_->ListRuns(range);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("submitted_after"), std::string::npos);
  RunListRequest tag;
  tag.filter.tags = {{"", "x"}};
  r = svc_->ListRuns(tag);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("tag"), std::string::npos);
}

TEST_F(RunServiceTest, UnfilteredWesTokensStillWork) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(svc_->Submit(Mock()).ok());
  auto first = svc_->ListRuns(2, "");
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_page_token.empty());
  auto second = svc_->ListRuns(2, first->next_page_token);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->runs.size(), 1u);
  // The same token through the filtered entry point without a filter.
  RunListRequest req;
  req.page_size = 2;
  req.page_token = first->next_page_token;
  auto again = svc_->ListRuns(req);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->runs.size(), 1u);
}

TEST_F(RunServiceTest, UpdateTagsChecksKeys) {
  auto r = svc_->Submit(Mock());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(svc_->UpdateTags(r->run_id, {{"", "x"}}, {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(svc_->UpdateTags(r->run_id, {{"a", "x"}}, {"a"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(svc_->UpdateTags("../etc", {{"a", "x"}}, {}).status().code(), StatusCode::kNotFound);
  auto updated = svc_->UpdateTags(r->run_id, {{"project", "x"}}, {});
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ(updated->request.tags.at("project"), "x");
}

TEST_F(RunServiceTest, DeleteRunRemovesTheEndedRunAndItsDirectory) {
  SubmitRequest req = Mock();
  req.attachments = {{"in.txt", "x"}};
  auto r = svc_->Submit(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(svc_->DeleteRun(r->run_id).code(), StatusCode::kFailedPrecondition) << "not ended";
  EXPECT_TRUE(std::filesystem::exists(RunService::RunDir(data_dir_, r->run_id)));
  ASSERT_TRUE(svc_->Cancel(r->run_id).ok());  // QUEUED -> CANCELED
  ASSERT_TRUE(svc_->DeleteRun(r->run_id).ok());
  EXPECT_FALSE(std::filesystem::exists(RunService::RunDir(data_dir_, r->run_id)));
  EXPECT_EQ(svc_->GetStatus(r->run_id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(svc_->DeleteRun(r->run_id).code(), StatusCode::kNotFound);
  EXPECT_EQ(svc_->DeleteRun("../..").code(), StatusCode::kNotFound);
}

TEST_F(RunServiceTest, StatsAddRatesHoursAndCost) {
  RunServiceOptions o;
  o.data_dir = data_dir_;
  o.prices.per_cpu_hour = 0.5;
  o.prices.per_gb_hour = 0.1;
  RunService svc(store_, drivers_, ids_, clock_, waker_, o);
  const Micros now = clock_.Now();
  for (int i = 0; i < 2; ++i) {
    auto r = svc.Submit(Mock());
    ASSERT_TRUE(r.ok());
    store::RunTransition t;
    t.run_id = r->run_id;
    t.to = i == 0 ? State::kComplete : State::kExecutorError;
    t.at = now;
    t.start_time = now - 3600 * kMicrosPerSecond;
    t.end_time = now;
    store::RunUsage usage;
    usage.tasks = 1;
    usage.task_seconds = {3600};
    usage.cpu_seconds = 2 * 3600;        // 2 CPUs for an hour
    usage.memory_gb_seconds = 4 * 3600;  // 4 GB for an hour
    t.usage = usage;
    ASSERT_TRUE(store_.TransitionRun(t).ok());
  }
  store::StatsQuery q;
  q.from = now - 86400 * kMicrosPerSecond;
  q.to = now + 86400 * kMicrosPerSecond;
  q.group_by = store::StatsGroupBy::kUser;
  auto stats = svc.Stats(q);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  ASSERT_EQ(stats->size(), 1u);
  const StatsGroupReport& g = (*stats)[0];
  EXPECT_EQ(g.group.key, "anonymous");
  EXPECT_EQ(g.group.runs, 2);
  EXPECT_DOUBLE_EQ(g.success_rate, 0.5);
  EXPECT_DOUBLE_EQ(g.cpu_hours, 4);
  EXPECT_DOUBLE_EQ(g.gb_hours, 8);
  EXPECT_DOUBLE_EQ(g.estimated_cost, 4 * 0.5 + 8 * 0.1);

  store::StatsQuery backwards = q;
  std::swap(backwards.from, backwards.to);
  EXPECT_EQ(svc.Stats(backwards).status().code(), StatusCode::kInvalidArgument);
  store::StatsQuery no_key = q;
  no_key.group_by = store::StatsGroupBy::kTag;
  EXPECT_EQ(svc.Stats(no_key).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::service
