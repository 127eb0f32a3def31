#include "service/retention.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/driver.h"
#include "store/sqlite/sqlite_run_store.h"

namespace sluice::service {
namespace {

constexpr Micros kDay = 86400 * kMicrosPerSecond;

store::EndedRun Ended(const std::string& type, store::StringMap tags) {
  store::EndedRun r;
  r.id = "r";
  r.workflow_type = type;
  r.tags = std::move(tags);
  return r;
}

TEST(RetentionRules, MostSpecificRuleWinsTagThenWorkflowTypeThenDefault) {
  RetentionRules rules;
  rules.default_age = 30 * kDay;
  rules.by_workflow_type["ASL"] = 7 * kDay;
  rules.by_tag[{"project", "tmp"}] = 1 * kDay;
  rules.by_tag[{"keep", "yes"}] = 0;
  EXPECT_EQ(rules.AgeFor(Ended("MOCK", {})), 30 * kDay);
  EXPECT_EQ(rules.AgeFor(Ended("ASL", {})), 7 * kDay);
  EXPECT_EQ(rules.AgeFor(Ended("ASL", {{"project", "tmp"}})), 1 * kDay);
  EXPECT_EQ(rules.AgeFor(Ended("ASL", {{"project", "other"}})), 7 * kDay);
  // A tag rule of 0 (keep) beats a shorter one when both match.
  EXPECT_EQ(rules.AgeFor(Ended("ASL", {{"project", "tmp"}, {"keep", "yes"}})), 0);
  EXPECT_EQ(rules.SmallestAge(), 1 * kDay);
}

TEST(RetentionRules, NoRuleMeansKeepEverything) {
  RetentionRules rules;
  EXPECT_TRUE(rules.empty());
  EXPECT_EQ(rules.AgeFor(Ended("MOCK", {{"a", "b"}})), 0);
  rules.by_tag[{"keep", "yes"}] = 0;
  EXPECT_TRUE(rules.empty());
}

TEST(RetentionRules, ParsesTagRules) {
  auto rule = ParseTagRule("project:tmp:x");
  ASSERT_TRUE(rule.ok());
  EXPECT_EQ(rule->first, "project");
  EXPECT_EQ(rule->second, "tmp:x");
  EXPECT_EQ(ParseTagRule("novalue").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTagRule(":x").status().code(), StatusCode::kInvalidArgument);
}

class NoWaker : public RunWaker {
 public:
  void WakeQueued() override {}
  void WakeRun(const std::string&) override {}
};

class RetentionSweeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sluice-retention-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    auto store = store::sqlite::SqliteRunStore::Open(dir_ + "/sluice.db", {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    RunServiceOptions o;
    o.data_dir = dir_;
    runs_ = std::make_unique<RunService>(*store_, drivers_, ids_, clock_, waker_, o);
  }
  void TearDown() override {
    runs_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A run of `type` with `tags` that ended `days_ago`, with a file in its directory.
  void EndedRun(const std::string& id, const std::string& type, store::StringMap tags,
                double days_ago) {
    store::NewRun run;
    run.id = id;
    run.request.workflow_type = type;
    run.request.workflow_type_version = "1.0";
    run.request.workflow_url = "x://y";
    run.request.tags = std::move(tags);
    const Micros ended = clock_.Now() - static_cast<Micros>(days_ago * kDay);
    run.submitted_at = ended - kMicrosPerSecond;
    ASSERT_TRUE(store_->CreateRun(run).ok());
    store::RunTransition t;
    t.run_id = id;
    t.to = State::kComplete;
    t.at = ended;
    t.end_time = ended;
    auto r = store_->TransitionRun(t);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::filesystem::create_directories(RunService::RunDir(dir_, id) + "/tasks/task-1");
    std::ofstream(RunService::RunDir(dir_, id) + "/tasks/task-1/stdout") << "out\n";
  }

  bool Exists(const std::string& id) { return store_->GetRunStatus(id).ok(); }
  bool DirExists(const std::string& id) {
    return std::filesystem::exists(RunService::RunDir(dir_, id));
  }

  std::string dir_;
  SystemClock clock_;
  engine::DriverRegistry drivers_;
  RandomIdGenerator ids_;
  NoWaker waker_;
  std::unique_ptr<store::sqlite::SqliteRunStore> store_;
  std::unique_ptr<RunService> runs_;
};

TEST_F(RetentionSweeperTest, DeletesExpiredRunsWithTheirFilesByTheMostSpecificRule) {
  EndedRun("old-default", "MOCK", {}, 40);
  EndedRun("young-default", "MOCK", {}, 20);
  EndedRun("old-asl", "ASL", {}, 8);
  EndedRun("young-asl", "ASL", {}, 6);
  EndedRun("tmp", "MOCK", {{"project", "tmp"}}, 2);
  EndedRun("kept", "MOCK", {{"keep", "yes"}}, 400);
  // Still running: never deleted, however old.
  store::NewRun live;
  live.id = "live";
  live.request.workflow_type = "MOCK";
  live.request.workflow_type_version = "1.0";
  live.request.workflow_url = "x://y";
  live.submitted_at = clock_.Now() - 100 * kDay;
  ASSERT_TRUE(store_->CreateRun(live).ok());

  RetentionOptions options;
  options.rules.default_age = 30 * kDay;
  options.rules.by_workflow_type["ASL"] = 7 * kDay;
  options.rules.by_tag[{"project", "tmp"}] = 1 * kDay;
  options.rules.by_tag[{"keep", "yes"}] = 0;
  options.batch = 2;  // several batches
  options.batch_pause = 1000;
  RetentionSweeper sweeper(*store_, *runs_, clock_, options);
  auto result = sweeper.SweepOnce();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->deleted, 3);
  EXPECT_EQ(result->failed, 0);
  for (const char* gone : {"old-default", "old-asl", "tmp"}) {
    EXPECT_FALSE(Exists(gone)) << gone;
    EXPECT_FALSE(DirExists(gone)) << gone;
  }
  for (const char* kept : {"young-default", "young-asl", "kept", "live"}) {
    EXPECT_TRUE(Exists(kept)) << kept;
  }
  EXPECT_TRUE(DirExists("young-default"));
  // A second sweep finds nothing more.
  result = sweeper.SweepOnce();
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->deleted, 0);
}

TEST_F(RetentionSweeperTest, ThreadSweepsSoonAfterStartAndStopsPromptly) {
  EndedRun("old", "MOCK", {}, 3);
  RetentionOptions options;
  options.rules.default_age = 1 * kDay;
  options.sweep_every = 50'000;
  RetentionSweeper sweeper(*store_, *runs_, clock_, options);
  ASSERT_TRUE(sweeper.Start().ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Exists("old") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  sweeper.Stop();
  EXPECT_FALSE(Exists("old"));
}

}  // namespace
}  // namespace sluice::service
