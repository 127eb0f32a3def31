#include "store/sqlite/bulk_import.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_run_store.h"

namespace sluice::store::sqlite {
namespace {

std::string StatusText(const Status& s) { return s.ToString(); }
template <typename T>
std::string StatusText(const Result<T>& r) {
  return r.status().ToString();
}
#define ASSERT_OK(expr)                         \
  do {                                          \
    const auto& _s = (expr);                    \
    ASSERT_TRUE(_s.ok()) << StatusText(_s);     \
  } while (0)

constexpr Micros kBase = 1'764'000'000'000'000;  // late 2025

// A run as the MOCK workflow leaves it: 10 tasks running the mock driver's shell script.
ImportRun MockRun(int i, State state) {
  ImportRun r;
  char id[64];
  snprintf(id, sizeof id, "0196f4c2-7a1e-7b3d-9c1a-%012d", i);
  r.run.id = id;
  r.run.request.workflow_type = "MOCK";
  r.run.request.workflow_type_version = "1.0";
  r.run.request.workflow_url = "mock://bench";
  r.run.request.workflow_params = R"({"tasks":10,"task_seconds":1})";
  r.run.request.workflow_engine = "sluice";
  r.run.request.workflow_engine_version = "0.1";
  r.run.request.tags = {{"project", "p" + std::to_string(i % 7)}, {"user", "u" + std::to_string(i % 13)}};
  if (i % 3 == 0) r.run.request.tags["name"] = "nightly-" + std::to_string(i);
  r.run.user = "u" + std::to_string(i % 13);
  r.run.submitted_at = kBase + int64_t{i} * 1'000'000;
  r.state = state;
  bool started = state != State::kQueued;
  if (started) r.start_time = r.run.submitted_at + 20'000;
  if (IsTerminal(state)) {
    r.end_time = r.run.submitted_at + 15'000'000;
    r.outputs = R"({"tasks_completed":10})";
    RunUsage usage;
    usage.tasks = 10;
    usage.cpu_seconds = 10;
    r.usage = usage;
  }
  if (!started) return r;
  for (int k = 0; k < 10; ++k) {
    ImportTask t;
    t.id = "task-" + std::to_string(k + 1);
    t.name = "mock-" + std::to_string(k + 1);
    std::string label = "mock task " + std::to_string(k + 1) + "/10";
    t.cmd = {"/bin/sh", "-c",
             "echo '" + label + ": working for 1.000000s'; sleep 1.000000; echo '" + label +
                 ": done'"};
    t.created_at = *r.start_time + k * 1000;
    t.executor_job_id = std::to_string(100000 + i * 10 + k);
    t.start_time = t.created_at + 5000;
    if (IsTerminal(state)) {
      t.state = State::kComplete;
      t.end_time = *t.start_time + 1'000'000;
      t.exit_code = 0;
    } else {
      t.state = State::kRunning;
    }
    r.tasks.push_back(std::move(t));
  }
  return r;
}

class BulkImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sluice-import-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/runs.db";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string dir_;
  std::string path_;
};

State StateOf(int i) {
  switch (i % 5) {
    case 0:
      return State::kQueued;
    case 1:
      return State::kRunning;
    case 2:
      return State::kExecutorError;
    default:
      return State::kComplete;
  }
}

TEST_F(BulkImportTest, ImportedRunsReadBackLikeLiveOnes) {
  constexpr int kRuns = 50;
  {
    auto importer = BulkImporter::Open(path_);
    ASSERT_OK(importer);
    for (int i = 0; i < kRuns; ++i) ASSERT_OK((*importer)->Add(MockRun(i, StateOf(i))));
    ASSERT_OK((*importer)->Finish());
    EXPECT_EQ((*importer)->runs_added(), kRuns);
  }
  auto opened = SqliteRunStore::Open(path_, SqliteOptions{});
  ASSERT_OK(opened);
  SqliteRunStore& store = **opened;

  // Run rows.
  auto run = store.GetRun(MockRun(3, State::kComplete).run.id);
  ASSERT_OK(run);
  EXPECT_EQ(run->state, State::kComplete);
  EXPECT_EQ(run->user, "u3");
  EXPECT_EQ(run->name, "nightly-3");
  EXPECT_EQ(run->outputs, R"({"tasks_completed":10})");
  EXPECT_EQ(run->start_time, kBase + 3'000'000 + 20'000);
  EXPECT_TRUE(run->end_time.has_value());

  // Tasks.
  auto tasks = store.ListTasks({run->id, 100, std::nullopt});
  ASSERT_OK(tasks);
  ASSERT_EQ(tasks->tasks.size(), 10u);
  EXPECT_EQ(tasks->tasks[0].id, "task-1");
  EXPECT_EQ(tasks->tasks[9].state, State::kComplete);
  EXPECT_EQ(tasks->tasks[9].exit_code, 0);
  EXPECT_EQ(tasks->tasks[9].executor_job_id, "100039");
  EXPECT_EQ(tasks->tasks[9].cmd.size(), 3u);
  auto task = store.GetTask(run->id, "task-4");
  ASSERT_OK(task);
  EXPECT_EQ(task->name, "mock-4");

  // History: run QUEUED, INITIALIZING, RUNNING, COMPLETE and 4 events per task.
  auto history = store.ListHistory({run->id, 100, std::nullopt});
  ASSERT_OK(history);
  ASSERT_EQ(history->events.size(), 44u);
  int run_events = 0;
  int created = 0;
  for (size_t i = 0; i < history->events.size(); ++i) {
    const HistoryEvent& e = history->events[i];
    if (i > 0) {
      EXPECT_GT(e.seq, history->events[i - 1].seq);
    }
    if (e.type == "RunStateChanged") ++run_events;
    if (e.type == "TaskCreated") {
      ++created;
      EXPECT_FALSE(e.task_id.empty());
    }
  }
  EXPECT_EQ(run_events, 4);
  EXPECT_EQ(created, 10);
  EXPECT_EQ(history->events.back().to, State::kComplete);
  auto queued = store.ListHistory({MockRun(5, State::kQueued).run.id, 100, std::nullopt});
  ASSERT_OK(queued);
  EXPECT_EQ(queued->events.size(), 1u);

  // Counts and filters.
  auto counts = store.CountRunsByState();
  ASSERT_OK(counts);
  EXPECT_EQ(*counts, (std::map<State, int64_t>{{State::kQueued, 10},
                                              {State::kRunning, 10},
                                              {State::kExecutorError, 10},
                                              {State::kComplete, 20}}));
  RunFilter f;
  f.user = "u3";
  f.states = {State::kComplete};
  auto c = store.CountRuns(f);
  ASSERT_OK(c);
  int64_t want = 0;
  for (int i = 0; i < kRuns; ++i) want += (i % 13 == 3 && StateOf(i) == State::kComplete) ? 1 : 0;
  EXPECT_EQ(c->count, want);
  EXPECT_TRUE(c->exact);
  RunFilter tag;
  tag.tags = {{"project", "p2"}};
  tag.states = {State::kRunning, State::kComplete};
  RunListQuery q;
  q.page_size = 100;
  q.filter = tag;
  auto page = store.ListRuns(q);
  ASSERT_OK(page);
  int64_t want_tag = 0;
  for (int i = 0; i < kRuns; ++i) {
    State s = StateOf(i);
    want_tag += (i % 7 == 2 && (s == State::kRunning || s == State::kComplete)) ? 1 : 0;
  }
  EXPECT_EQ(static_cast<int64_t>(page->runs.size()), want_tag);
  auto tag_count = store.CountRuns(tag);
  ASSERT_OK(tag_count);
  EXPECT_EQ(tag_count->count, want_tag);

  // The live store keeps writing after an import: per-run numbering continues.
  RunTransition t;
  t.run_id = MockRun(1, State::kRunning).run.id;
  t.to = State::kComplete;
  t.at = kBase + 100'000'000;
  ASSERT_OK(store.TransitionRun(t));
  auto after = store.ListHistory({t.run_id, 100, std::nullopt});
  ASSERT_OK(after);
  EXPECT_EQ(after->events.back().to, State::kComplete);
  EXPECT_EQ(after->events.back().seq,
            after->events[after->events.size() - 2].seq + 1);
}

// The issue's budget: at most 3 KB per run with its 10 tasks and its history.
TEST_F(BulkImportTest, StoreStaysUnderThreeKilobytesPerRunWithTenTasks) {
  constexpr int kRuns = 20000;
  {
    std::vector<ImportRun> runs;
    runs.reserve(kRuns);
    for (int i = 0; i < kRuns; ++i) {
      runs.push_back(MockRun(i, i % 10 == 0 ? State::kExecutorError : State::kComplete));
    }
    auto start = std::chrono::steady_clock::now();
    auto importer = BulkImporter::Open(path_);
    ASSERT_OK(importer);
    for (const ImportRun& run : runs) ASSERT_OK((*importer)->Add(run));
    ASSERT_OK((*importer)->Finish());
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    RecordProperty("import_runs_per_second", std::to_string(kRuns / seconds));
    std::cout << "imported " << kRuns / seconds << " runs/s (10 tasks each)\n";
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT name, SUM(pgsize), SUM(unused) FROM dbstat GROUP BY name "
                               "ORDER BY 2 DESC",
                               -1, &stmt, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  double total = 0;
  std::string breakdown;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    double bytes = sqlite3_column_double(stmt, 1);
    total += bytes;
    breakdown += std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))) + " " +
                 std::to_string(static_cast<int>(bytes / kRuns)) + " B/run (unused " +
                 std::to_string(static_cast<int>(sqlite3_column_double(stmt, 2) / kRuns)) +
                 ")\n";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  double per_run = total / kRuns;
  RecordProperty("bytes_per_run", std::to_string(per_run));
  std::cout << "bytes per run: " << per_run << "\n" << breakdown;
  EXPECT_LE(per_run, 3072) << breakdown;
}

}  // namespace
}  // namespace sluice::store::sqlite
