#include "store/sqlite/run_query.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_run_store.h"

namespace sluice::store::sqlite {
namespace {

class RunQueryPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "sluice-plan-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/runs.db";
  }
  void TearDown() override {
    if (db_ != nullptr) sqlite3_close(db_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A store with a few hundred runs in several states, users and tags, analyzed so that the
  // planner has statistics like a long-running store has.
  void Load() {
    auto store = SqliteRunStore::Open(path_, SqliteOptions{});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (int i = 0; i < 300; ++i) {
      NewRun n;
      n.id = "run-" + std::to_string(i);
      n.request.workflow_type = i % 2 ? "MOCK" : "ASL";
      n.request.tags = {{"project", "p" + std::to_string(i % 5)}, {"name", "n" + std::to_string(i)}};
      n.user = "u" + std::to_string(i % 7);
      n.submitted_at = 1000 + i;
      ASSERT_TRUE((*store)->CreateRun(n).ok());
      if (i % 3 == 0) {
        RunTransition t;
        t.run_id = n.id;
        t.to = State::kCanceled;
        t.at = 5000 + i;
        ASSERT_TRUE((*store)->TransitionRun(t).ok());
      }
    }
    store->reset();
    ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db_, "ANALYZE", nullptr, nullptr, nullptr), SQLITE_OK);
  }

  std::string Plan(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string text = "EXPLAIN QUERY PLAN " + sql;
    if (sqlite3_prepare_v2(db_, text.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      return std::string("PREPARE FAILED: ") + sqlite3_errmsg(db_);
    }
    std::string plan;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
      plan += "\n";
    }
    sqlite3_finalize(stmt);
    return plan;
  }

  std::string dir_;
  std::string path_;
  sqlite3* db_ = nullptr;
};

// Every combination of filters (states: none, one or several), every sort, with and without
// a cursor: each candidate scan must be an index search, never a table scan or a sort.
TEST_F(RunQueryPlanTest, EveryFilterCombinationAndSortUsesAnIndexOnly) {
  Load();
  const RunSort sorts[] = {RunSort::kSubmittedDesc, RunSort::kSubmittedAsc, RunSort::kUpdatedDesc,
                           RunSort::kUpdatedAsc};
  int checked = 0, covered = 0;
  for (int states = 0; states < 3; ++states) {
    for (int mask = 0; mask < 64; ++mask) {
      RunFilter f;
      if (states == 1) f.states = {State::kQueued};
      if (states == 2) f.states = {State::kQueued, State::kCanceled, State::kRunning};
      if (mask & 1) f.user = "u1";
      if (mask & 2) f.tags = {{"project", "p1"}};
      if (mask & 4) f.tags.push_back({"name", "n3"});
      if (mask & 8) f.workflow_type = "MOCK";
      if (mask & 16) {
        f.submitted_after = 1010;
        f.submitted_before = 1200;
      }
      if (mask & 32) f.name_prefix = "n1";
      for (RunSort sort : sorts) {
        for (int variant = 0; variant < 4; ++variant) {
          const bool cursor = variant & 1, summary = variant & 2;
          RunListQuery q;
          q.filter = f;
          q.sort = sort;
          q.summary = summary;
          if (cursor) q.after = RunCursor{5100, 100};
          for (const std::string& sql : CandidateRunScansForTesting(q)) {
            std::string plan = Plan(sql);
            ++checked;
            EXPECT_EQ(plan.find("PREPARE FAILED"), std::string::npos) << plan << sql;
            EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan << sql;
            EXPECT_NE(plan.find("SEARCH "), std::string::npos) << plan << sql;
            if (plan.find("CO-ROUTINE d") == std::string::npos) {
              // A listing driven by (user, state) reads that covering index alone (0008).
              EXPECT_TRUE(summary) << plan << sql;
              EXPECT_NE(plan.find("USING COVERING INDEX runs_by_user_state"), std::string::npos)
                  << plan << sql;
              EXPECT_EQ(plan.find("SCAN "), std::string::npos) << plan << sql;
              ++covered;
              continue;
            }
            // The one scan allowed is of the co-routine `d` that walks the driving index.
            std::string rest = plan;
            for (size_t at; (at = rest.find("SCAN d\n")) != std::string::npos;) {
              rest.erase(at, 7);
            }
            EXPECT_EQ(rest.find("SCAN "), std::string::npos) << plan << sql;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 1000);
  EXPECT_GT(covered, 0);
}

}  // namespace
}  // namespace sluice::store::sqlite
