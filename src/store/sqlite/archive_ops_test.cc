#include "store/sqlite/archive_ops.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <limits>
#include <random>
#include <string>

#include "store/sqlite/bulk_import.h"
#include "store/sqlite/sqlite_run_store.h"

namespace sluice::store::sqlite {
namespace {

#define ASSERT_OK(expr)                                   \
  do {                                                    \
    const auto& _s = (expr);                              \
    ASSERT_TRUE(_s.ok()) << StatusOf(_s).ToString();      \
  } while (0)

const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

void ExpectSameTask(const TaskRecord& a, const TaskRecord& b) {
  EXPECT_EQ(a.run_id, b.run_id);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.cmd, b.cmd);
  EXPECT_EQ(a.launch_spec, b.launch_spec);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.executor, b.executor);
  EXPECT_EQ(a.executor_job_id, b.executor_job_id);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.start_time, b.start_time);
  EXPECT_EQ(a.end_time, b.end_time);
  EXPECT_EQ(a.system_logs, b.system_logs);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
}

void ExpectSameEvent(const HistoryEvent& a, const HistoryEvent& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.run_id, b.run_id);
  EXPECT_EQ(a.task_id, b.task_id);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.from, b.from);
  EXPECT_EQ(a.to, b.to);
  EXPECT_EQ(a.at, b.at);
  EXPECT_EQ(a.reason, b.reason);
}

// Awkward values on purpose: gaps in seq, missing optionals, negative numbers, times going
// backwards, unicode, empty strings, system logs, an event at a time no task field holds.
RunArchive AwkwardArchive() {
  RunArchive a;
  TaskRecord t1;
  t1.run_id = "r";
  t1.id = "align";
  t1.seq = 7;
  t1.name = "Zürich ✓";
  t1.cmd = {"bwa", "", "mem -t 8"};
  t1.launch_spec = R"({"env":{"K":"v"},"cpus":2})";
  t1.state = State::kExecutorError;
  t1.executor = "local";
  t1.executor_job_id = "4711";
  t1.exit_code = -9;
  t1.start_time = 1'764'000'000'000'000;
  t1.end_time = 1'764'000'000'000'000 - 5;  // before start: stored as given
  t1.system_logs = {"killed", "oom"};
  t1.created_at = 1'763'999'999'000'000;
  t1.updated_at = 1'764'000'001'000'000;
  TaskRecord t2;
  t2.run_id = "r";
  t2.id = "never-started";
  t2.seq = 1'000'000'000'000;
  t2.state = State::kCanceled;
  t2.created_at = std::numeric_limits<int64_t>::min();
  t2.updated_at = std::numeric_limits<int64_t>::max();
  a.tasks = {t1, t2};
  auto event = [](int64_t seq, std::string task, std::string type, State from, State to,
                  Micros at, std::string reason) {
    HistoryEvent e;
    e.seq = seq;
    e.run_id = "r";
    e.task_id = std::move(task);
    e.type = std::move(type);
    e.from = from;
    e.to = to;
    e.at = at;
    e.reason = std::move(reason);
    return e;
  };
  a.events = {
      event(1, "", "RunStateChanged", State::kUnknown, State::kQueued, 5, "submitted"),
      event(3, "align", "TaskCreated", State::kUnknown, State::kQueued, t1.created_at, "created"),
      event(4, "align", "TaskStateChanged", State::kQueued, State::kRunning, *t1.start_time, ""),
      event(5, "align", "TaskStateChanged", State::kRunning, State::kExecutorError, *t1.end_time,
            "exit code -9"),
      event(6, "never-started", "TaskCreated", State::kUnknown, State::kQueued, -3, "created"),
      event(9, "never-started", "TaskStateChanged", State::kQueued, State::kCanceled, 42, "x"),
      event(10, "", "TagsChanged", State::kCanceled, State::kCanceled, 1, "set a=b; removed c"),
      event(11, "", "RunStateChanged", State::kRunning, State::kCanceled, t1.updated_at, ""),
  };
  return a;
}

TEST(RunArchive, EncodeThenDecodeGivesEveryFieldBack) {
  RunArchive in = AwkwardArchive();
  Result<std::string> blob = EncodeRunArchive(in);
  ASSERT_OK(blob);
  Result<RunArchive> out = DecodeRunArchive(*blob, "r");
  ASSERT_OK(out);
  ASSERT_EQ(out->tasks.size(), in.tasks.size());
  for (size_t i = 0; i < in.tasks.size(); ++i) ExpectSameTask(out->tasks[i], in.tasks[i]);
  ASSERT_EQ(out->events.size(), in.events.size());
  for (size_t i = 0; i < in.events.size(); ++i) ExpectSameEvent(out->events[i], in.events[i]);
}

TEST(RunArchive, EmptyRunRoundTrips) {
  Result<std::string> blob = EncodeRunArchive(RunArchive());
  ASSERT_OK(blob);
  Result<RunArchive> out = DecodeRunArchive(*blob, "r");
  ASSERT_OK(out);
  EXPECT_TRUE(out->tasks.empty());
  EXPECT_TRUE(out->events.empty());
}

TEST(RunArchive, EventOfUnknownTaskIsRefused) {
  RunArchive a = AwkwardArchive();
  a.events[1].task_id = "nope";
  EXPECT_EQ(EncodeRunArchive(a).status().code(), StatusCode::kInvalidArgument);
}

TEST(RunArchive, CorruptBlobsAreInternalErrorsNotCrashes) {
  Result<std::string> blob = EncodeRunArchive(AwkwardArchive());
  ASSERT_OK(blob);
  EXPECT_EQ(DecodeRunArchive("", "r").status().code(), StatusCode::kInternal);
  std::string wrong_version = *blob;
  wrong_version[0] = 2;
  EXPECT_EQ(DecodeRunArchive(wrong_version, "r").status().code(), StatusCode::kInternal);
  for (size_t cut = 1; cut < blob->size(); cut += 3) {
    EXPECT_FALSE(DecodeRunArchive(blob->substr(0, cut), "r").ok()) << cut;
  }
  std::string flipped = *blob;
  for (size_t i = 2; i < flipped.size(); ++i) {
    flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
    (void)DecodeRunArchive(flipped, "r");  // any result but a crash
    flipped[i] = (*blob)[i];
  }
}

// --- the size budget, with the data bench/index_load writes ---

constexpr Micros kNow = 1'764'500'000'000'000;
constexpr Micros kSpan = 90LL * 24 * 3600 * kMicrosPerSecond;

// One run as bench/index_load.cc makes it (MOCK tasks, random job ids and durations).
ImportRun BenchRun(int i, int n_runs, std::mt19937_64& rng) {
  constexpr int kTasks = 10;
  ImportRun r;
  int u = i % 1000;
  char id[32];
  snprintf(id, sizeof id, "bench%011d", i);
  r.run.id = id;
  r.run.user = "u" + std::to_string(u);
  r.run.submitted_at = kNow - kSpan + kSpan / n_runs * i;
  r.run.request.workflow_type = "MOCK";
  r.run.request.workflow_type_version = "1.0";
  r.run.request.workflow_url = "mock://bench";
  r.run.request.workflow_params = R"({"tasks":10,"task_seconds":2})";
  r.run.request.tags = {{"user", r.run.user},
                        {"project", "p" + std::to_string((u * 7 + (i / 1000) % 2) % 200)},
                        {"pipeline", "pipe" + std::to_string(i % 5)},
                        {"name", "sample-" + std::to_string(i)}};
  int pct = static_cast<int>(rng() % 100);
  r.state = pct < 90   ? State::kComplete
            : pct < 96 ? State::kExecutorError
            : pct < 99 ? State::kCanceled
                       : State::kSystemError;
  Micros t = r.run.submitted_at + 20000;
  r.start_time = t;
  RunUsage usage;
  int failing = r.state == State::kExecutorError ? static_cast<int>(rng() % kTasks) : -1;
  for (int k = 0; k < kTasks; ++k) {
    ImportTask task;
    task.id = "task-" + std::to_string(k + 1);
    task.name = "mock-" + std::to_string(k + 1);
    std::string label = "mock task " + std::to_string(k + 1) + "/" + std::to_string(kTasks);
    task.cmd = {"/bin/sh", "-c",
                "echo '" + label + ": working for 2.000000s'; sleep 2.000000; echo '" + label +
                    ": done'"};
    task.created_at = t;
    task.executor_job_id = std::to_string(10000 + rng() % 90000);
    task.start_time = t + 3000;
    Micros seconds = 2 * kMicrosPerSecond + static_cast<Micros>(rng() % 500000);
    task.end_time = *task.start_time + seconds;
    if (k == failing) {
      task.state = State::kExecutorError;
      task.exit_code = 1;
    } else if (r.state == State::kCanceled && k == kTasks - 1) {
      task.state = State::kCanceled;
      task.exit_code = 143;
    } else if (r.state == State::kSystemError && k == kTasks - 1) {
      task.state = State::kSystemError;
    } else {
      task.exit_code = 0;
    }
    usage.tasks++;
    if (task.state != State::kComplete) usage.tasks_failed++;
    usage.task_seconds.push_back(static_cast<double>(seconds) / kMicrosPerSecond);
    usage.cpu_seconds += static_cast<double>(seconds) / kMicrosPerSecond;
    t = *task.end_time;
    r.tasks.push_back(std::move(task));
  }
  r.end_time = t + 5000;
  r.updated_at = *r.end_time;
  r.usage = std::move(usage);
  return r;
}

class ArchiveSizeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sluice-archive-XXXXXX").string();
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

// The issue's budget: at most 3 KB per run with its 10 tasks and its history, as the server
// keeps ended runs (archived) and as the bench loads them.
TEST_F(ArchiveSizeTest, BenchRunsTakeAtMostThreeKilobytesEach) {
  constexpr int kRuns = 2000;
  {
    auto start = std::chrono::steady_clock::now();
    auto importer = BulkImporter::Open(path_);
    ASSERT_OK(importer);
    std::mt19937_64 rng(42);
    for (int i = 0; i < kRuns; ++i) ASSERT_OK((*importer)->Add(BenchRun(i, kRuns, rng)));
    ASSERT_OK((*importer)->Finish());
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "imported " << kRuns / seconds << " runs/s\n";
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  auto single = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    int64_t v = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    return v;
  };
  int64_t bytes = single("PRAGMA page_count") * single("PRAGMA page_size");
  EXPECT_EQ(single("SELECT count(*) FROM run_archive"), kRuns);
  EXPECT_EQ(single("SELECT count(*) FROM tasks"), 0);
  EXPECT_EQ(single("SELECT count(*) FROM task_states"), 0);
  EXPECT_EQ(single("SELECT count(*) FROM history"), 0);
  std::string breakdown;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC",
                         -1, &stmt, nullptr) == SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      breakdown += "  " + std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))) +
                   ": " + std::to_string(sqlite3_column_int64(stmt, 1) / kRuns) + " B/run\n";
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  double per_run = static_cast<double>(bytes) / kRuns;
  RecordProperty("bytes_per_run", std::to_string(per_run));
  std::cout << "database bytes per run: " << per_run << "\n" << breakdown;
  EXPECT_LE(per_run, 3072) << breakdown;

  // And the archived runs read back whole.
  auto store = SqliteRunStore::Open(path_, SqliteOptions{});
  ASSERT_OK(store);
  std::mt19937_64 rng(42);
  ImportRun want = BenchRun(0, kRuns, rng);
  auto tasks = (*store)->ListTasks({want.run.id, 100, std::nullopt});
  ASSERT_OK(tasks);
  ASSERT_EQ(tasks->tasks.size(), 10u);
  EXPECT_EQ(tasks->tasks[3].executor_job_id, want.tasks[3].executor_job_id);
  EXPECT_EQ(tasks->tasks[3].cmd, want.tasks[3].cmd);
  EXPECT_EQ(tasks->tasks[3].end_time, want.tasks[3].end_time);
  auto history = (*store)->ListHistory({want.run.id, 100, std::nullopt});
  ASSERT_OK(history);
  EXPECT_EQ(history->events.size(), 44u);
}

// The SQLite backend really moves the rows (the conformance suite allows a backend not to),
// writes nothing to the outbox doing so, and leaves runs it cannot move as rows.
TEST_F(ArchiveSizeTest, ArchiveEndedRunsMovesRowsWithoutOutboxEntries) {
  auto opened = SqliteRunStore::Open(path_, SqliteOptions{});
  ASSERT_OK(opened);
  SqliteRunStore& store = **opened;
  auto make = [&](const std::string& id, bool finish_task) {
    NewRun run;
    run.id = id;
    run.request.workflow_type = "MOCK";
    run.submitted_at = 1000;
    ASSERT_OK(store.CreateRun(run));
    TaskRecord task;
    task.run_id = id;
    task.id = "t";
    task.created_at = 1100;
    ASSERT_OK(store.CreateTask(task));
    TaskTransition tt;
    tt.run_id = id;
    tt.task_id = "t";
    tt.to = State::kComplete;
    tt.at = 1200;
    if (finish_task) ASSERT_OK(store.TransitionTask(tt));
    RunTransition rt;
    rt.run_id = id;
    rt.to = State::kComplete;
    rt.at = 1300;
    rt.end_time = 1300;
    ASSERT_OK(store.TransitionRun(rt));
  };
  make("done", true);
  make("task-left-queued", false);
  auto bounds = store.GetOutboxBounds();
  ASSERT_OK(bounds);
  auto moved = store.ArchiveEndedRuns(2000, 10);
  ASSERT_OK(moved);
  EXPECT_EQ(*moved, 1);
  auto after = store.GetOutboxBounds();
  ASSERT_OK(after);
  EXPECT_EQ(after->last_seq, bounds->last_seq);
  auto again = store.ArchiveEndedRuns(2000, 10);
  ASSERT_OK(again);
  EXPECT_EQ(*again, 0);
  opened->reset();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT r.id, r.archived, (SELECT count(*) FROM tasks t WHERE "
                               "t.run_seq = r.seq), (SELECT count(*) FROM history h WHERE "
                               "h.run_seq = r.seq), (SELECT count(*) FROM run_archive a WHERE "
                               "a.run_seq = r.seq) FROM runs r ORDER BY r.seq",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  std::vector<std::string> rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::string row;
    for (int c = 0; c < 5; ++c) {
      const unsigned char* text = sqlite3_column_text(stmt, c);
      row += (c ? " " : "") + std::string(reinterpret_cast<const char*>(text));
    }
    rows.push_back(row);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  EXPECT_EQ(rows, (std::vector<std::string>{"done 1 0 0 1", "task-left-queued 2 1 3 0"}));
}

// The archiver's walk reads the small partial index in order: no scan, no sort.
TEST_F(ArchiveSizeTest, ArchiveWalkUsesItsIndex) {
  { ASSERT_OK(SqliteRunStore::Open(path_, SqliteOptions{})); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::string query = std::string("EXPLAIN QUERY PLAN ") + kRunsToArchiveQuery;
  ASSERT_EQ(sqlite3_prepare_v2(db, query.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  std::string plan;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
    plan += "\n";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  EXPECT_NE(plan.find("USING INDEX runs_to_archive"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
}

}  // namespace
}  // namespace sluice::store::sqlite
