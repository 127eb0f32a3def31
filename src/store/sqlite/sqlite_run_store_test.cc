#include "store/sqlite/sqlite_run_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include "store/sqlite/migrations.h"
#include "store/sqlite/outbox_ops.h"
#include "store/sqlite/statements.h"
#include "testing/fake_run_store.h"
#include "testing/store_conformance.h"

namespace sluice::store::sqlite {
namespace {

#define ASSERT_OK(expr)                             \
  do {                                              \
    const auto& _r = (expr);                        \
    ASSERT_TRUE(_r.ok()) << _r.status().ToString(); \
  } while (0)

Result<std::unique_ptr<RunStore>> MakeSqlite(const std::string& dir) {
  ASSIGN_OR_RETURN(auto store, SqliteRunStore::Open(dir + "/runs.db", SqliteOptions{}));
  return std::unique_ptr<RunStore>(std::move(store));
}

Result<std::unique_ptr<RunStore>> MakeFake(const std::string&) {
  return std::unique_ptr<RunStore>(std::make_unique<FakeRunStore>());
}

SLUICE_INSTANTIATE_RUN_STORE_CONFORMANCE(Backends, RunStoreBackend{"Sqlite", MakeSqlite},
                                         RunStoreBackend{"Fake", MakeFake});

NewRun MakeRun(const std::string& id, Micros at = 1000) {
  NewRun n;
  n.id = id;
  n.request.workflow_type = "MOCK";
  n.request.workflow_type_version = "1.0";
  n.request.workflow_url = "mock://x";
  n.request.tags = {{"k", "v"}};
  n.submitted_at = at;
  return n;
}

// A fresh directory per test, removed afterwards.
class SqliteRunStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "sluice-sqlite-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/runs.db";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<SqliteRunStore> OpenStore(SqliteOptions options = {}) {
    Result<std::unique_ptr<SqliteRunStore>> store = SqliteRunStore::Open(path_, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Runs `sql` on a separate raw connection and returns the first column of every row.
  std::vector<std::string> Query(const std::string& sql) {
    sqlite3* db = nullptr;
    std::vector<std::string> rows;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      int last = sqlite3_column_count(stmt) - 1;  // EXPLAIN QUERY PLAN: the detail column
      const unsigned char* text = sqlite3_column_text(stmt, last);
      rows.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return rows;
  }

  std::string QueryPlan(const std::string& sql) {
    std::string plan;
    for (const std::string& row : Query("EXPLAIN QUERY PLAN " + sql)) plan += row + "\n";
    return plan;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SqliteRunStoreTest, ReopenKeepsEverything) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->CreateRun(MakeRun("a", 100)));
    ASSERT_OK(store->CreateRun(MakeRun("b", 200)));
    RunTransition t;
    t.run_id = "a";
    t.to = State::kRunning;
    t.at = 300;
    t.start_time = 300;
    t.system_log = "started";
    ASSERT_OK(store->TransitionRun(t));
    TaskRecord task;
    task.run_id = "a";
    task.id = "t1";
    task.name = "step";
    task.cmd = {"true"};
    task.executor = "local";
    task.created_at = 310;
    ASSERT_OK(store->CreateTask(task));
    ASSERT_OK(store->ClaimRuns({"replica-1", 300, 900, 10}));
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  Result<RunRecord> a = store->GetRun("a");
  ASSERT_OK(a);
  EXPECT_EQ(a->state, State::kRunning);
  EXPECT_EQ(a->start_time, 300);
  EXPECT_EQ(a->system_logs, std::vector<std::string>{"started"});
  EXPECT_EQ(a->request.tags, (StringMap{{"k", "v"}}));
  EXPECT_EQ(a->owner, "replica-1");
  EXPECT_EQ(a->lease_until, 900);
  Result<TaskRecord> t1 = store->GetTask("a", "t1");
  ASSERT_OK(t1);
  EXPECT_EQ(t1->cmd, std::vector<std::string>{"true"});
  Result<HistoryPage> h = store->ListHistory({"a", 100, std::nullopt});
  ASSERT_OK(h);
  EXPECT_EQ(h->events.size(), 3u);
  Result<std::map<State, int64_t>> counts = store->CountRunsByState();
  ASSERT_OK(counts);
  EXPECT_EQ(*counts, (std::map<State, int64_t>{{State::kQueued, 1}, {State::kRunning, 1}}));
  // Sequence numbers keep increasing across restarts.
  ASSERT_OK(store->CreateRun(MakeRun("c", 400)));
  Result<RunRecord> b = store->GetRun("b");
  Result<RunRecord> c = store->GetRun("c");
  ASSERT_OK(b);
  ASSERT_OK(c);
  EXPECT_GT(c->seq, b->seq);
}

TEST_F(SqliteRunStoreTest, EveryIdReportedBeforeKillNineSurvives) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: create runs from 4 threads forever, reporting each id once CreateRun returned.
    close(fds[0]);
    Result<std::unique_ptr<SqliteRunStore>> store = SqliteRunStore::Open(path_, SqliteOptions{});
    if (!store.ok()) _exit(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0;; ++i) {
          char id[32];
          snprintf(id, sizeof(id), "c%d-%08d", t, i);  // 11 chars
          if (!(*store)->CreateRun(MakeRun(id, i)).ok()) _exit(3);
          char line[16];
          int n = snprintf(line, sizeof(line), "%s\n", id);
          if (write(fds[1], line, n) != n) _exit(4);  // < PIPE_BUF: atomic
        }
      });
    }
    for (auto& th : threads) th.join();
    _exit(0);
  }
  close(fds[1]);
  std::string received;
  char buf[4096];
  // Let the child get well into its work, then kill it without warning.
  while (std::count(received.begin(), received.end(), '\n') < 300) {
    ssize_t n = read(fds[0], buf, sizeof(buf));
    ASSERT_GT(n, 0) << "child stopped early";
    received.append(buf, n);
  }
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);
  // Whatever the child wrote before dying was acknowledged, so it must be durable too.
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) received.append(buf, n);
  close(fds[0]);

  std::vector<std::string> ids;
  size_t start = 0;
  for (size_t nl; (nl = received.find('\n', start)) != std::string::npos; start = nl + 1) {
    ids.push_back(received.substr(start, nl - start));
  }
  ASSERT_GE(ids.size(), 300u);
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  for (const std::string& id : ids) {
    Result<RunStatusRow> status = store->GetRunStatus(id);
    EXPECT_TRUE(status.ok()) << id << ": " << status.status().ToString();
  }
  // The counts table is consistent with the rows that survived.
  Result<std::map<State, int64_t>> counts = store->CountRunsByState();
  ASSERT_OK(counts);
  std::vector<std::string> rows = Query("SELECT count(*) FROM runs");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ((*counts)[State::kQueued], std::stoll(rows[0]));
  EXPECT_GE((*counts)[State::kQueued], static_cast<int64_t>(ids.size()));
}

// The WAL is checkpointed once it holds wal_autocheckpoint_pages pages, not at SQLite's
// default of 1,000: the WAL file grows to about that many pages and no further.
TEST_F(SqliteRunStoreTest, WalIsCheckpointedAfterTheConfiguredNumberOfPages) {
  auto wal_bytes_after_writes = [&](const std::string& name, int pages) -> uintmax_t {
    SqliteOptions options;
    options.wal_autocheckpoint_pages = pages;
    auto store = SqliteRunStore::Open(dir_ + "/" + name, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return 0;
    // ~1,800 pages of 4 KiB in 120 commits.
    for (int i = 0; i < 120; ++i) {
      NewRun run = MakeRun(name + "-" + std::to_string(i));
      run.request.workflow_params = "{\"pad\":\"" + std::string(60000, 'x') + "\"}";
      EXPECT_TRUE((*store)->CreateRun(run).ok());
    }
    return std::filesystem::file_size(dir_ + "/" + name + "-wal");
  };
  EXPECT_LT(wal_bytes_after_writes("small.db", 200), uintmax_t{2} << 20);
  EXPECT_GT(wal_bytes_after_writes("large.db", 3000), uintmax_t{6} << 20);
}

TEST_F(SqliteRunStoreTest, QueuedWritesShareOneTransaction) {
  SqliteOptions options;
  options.max_batch_size = 64;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  WriterStats before = store->writer_stats();
  store->writer_for_testing().PauseForTesting();
  constexpr int kWriters = 64;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      if (store->CreateRun(MakeRun("r" + std::to_string(i))).ok()) ok++;
    });
  }
  while (store->writer_for_testing().PendingForTesting() < kWriters) std::this_thread::yield();
  store->writer_for_testing().ResumeForTesting();
  for (auto& th : threads) th.join();
  WriterStats after = store->writer_stats();
  EXPECT_EQ(ok.load(), kWriters);
  EXPECT_EQ(after.writes - before.writes, kWriters);
  EXPECT_EQ(after.transactions - before.transactions, 1);
}

TEST_F(SqliteRunStoreTest, AsyncCreatesShareFewTransactionsWithoutBlockingTheCaller) {
  SqliteOptions options;
  options.max_batch_size = 128;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  WriterStats before = store->writer_stats();
  // While paused nothing commits, so every call below must return without waiting for it.
  store->writer_for_testing().PauseForTesting();
  constexpr int kRuns = 256;
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  int ok = 0;
  for (int i = 0; i < kRuns; ++i) {
    store->CreateRunAsync(MakeRun("r" + std::to_string(i)), [&](Result<CreateRunResult> r) {
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      if (r.ok() && r->created) ++ok;
      cv.notify_all();
    });
  }
  EXPECT_EQ(store->writer_for_testing().PendingForTesting(), static_cast<size_t>(kRuns));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(done, 0);  // nothing is acknowledged before its COMMIT
  }
  store->writer_for_testing().ResumeForTesting();
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done == kRuns; });
    EXPECT_EQ(ok, kRuns);
  }
  WriterStats after = store->writer_stats();
  EXPECT_EQ(after.writes - before.writes, kRuns);
  EXPECT_EQ(after.transactions - before.transactions, kRuns / options.max_batch_size);
  EXPECT_EQ(Query("SELECT count(*) FROM runs"), std::vector<std::string>{"256"});
}

TEST_F(SqliteRunStoreTest, AsyncCreateAfterShutdownStartsIsUnavailable) {
  // The writer refuses new work once its destructor runs; an async caller is told at once.
  std::unique_ptr<Connection> conn;
  {
    Result<std::unique_ptr<Connection>> opened = Connection::Open(path_, ConnectionOptions{});
    ASSERT_OK(opened);
    conn = std::move(opened).value();
  }
  auto writer = std::make_unique<GroupCommitWriter>(std::move(conn), 8);
  GroupCommitWriter* raw = writer.get();
  raw->PauseForTesting();  // so the first write completes only once shutdown has begun
  std::atomic<int> calls{0};
  Status seen;
  // Queued before shutdown: completes normally, inside the destructor, and may submit again.
  raw->SubmitAsync([](Connection&) { return Status::Ok(); },
                   [&, raw](Status st) {
                     EXPECT_TRUE(st.ok()) << st.ToString();
                     raw->SubmitAsync([](Connection&) { return Status::Ok(); },
                                      [&](Status late) {
                                        seen = late;
                                        calls++;
                                      });
                   });
  writer.reset();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(seen.code(), StatusCode::kUnavailable);
}

// With a sync function (the store's WAL fdatasync), a write's completion waits for a sync
// that started after its COMMIT; a failed sync fails the writes it was to make durable.
TEST_F(SqliteRunStoreTest, WriterCompletesWritesOnlyOnceASyncCoveredThem) {
  std::unique_ptr<Connection> conn;
  {
    Result<std::unique_ptr<Connection>> opened = Connection::Open(path_, ConnectionOptions{});
    ASSERT_OK(opened);
    conn = std::move(opened).value();
  }
  {
    Status made = conn->Exec("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER)");
    ASSERT_TRUE(made.ok()) << made.ToString();
  }
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int syncs = 0;
  Status sync_result;
  auto writer = std::make_unique<GroupCommitWriter>(std::move(conn), 8, [&]() -> Status {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return release; });
    ++syncs;
    return sync_result;
  });
  std::atomic<int> completed{0};
  Status first;
  writer->SubmitAsync([](Connection& db) { return db.Exec("INSERT INTO t VALUES (1)"); },
                      [&](Status st) {
                        first = st;
                        completed++;
                      });
  // Committed (a reader sees it) but not yet synced: nobody is told.
  for (int i = 0; i < 500 && Query("SELECT count(*) FROM t") != std::vector<std::string>{"1"};
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(Query("SELECT count(*) FROM t"), std::vector<std::string>{"1"});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(completed.load(), 0) << "completed before its commit was synced";
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  for (int i = 0; i < 500 && completed.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(completed.load(), 1);
  EXPECT_TRUE(first.ok()) << first.ToString();

  {
    std::lock_guard<std::mutex> lock(mu);
    sync_result = IoError("disk gone");
  }
  Status second = writer->Submit([](Connection& db) { return db.Exec("INSERT INTO t VALUES (2)"); });
  EXPECT_EQ(second.code(), StatusCode::kIo);
  EXPECT_NE(second.ToString().find("disk gone"), std::string::npos) << second.ToString();
  // A failing write is reported as itself, not as the sync's failure.
  Status third = writer->Submit([](Connection&) { return InvalidArgument("bad write"); });
  EXPECT_EQ(third.code(), StatusCode::kInvalidArgument);
  writer.reset();
  EXPECT_GE(syncs, 2);
}

TEST_F(SqliteRunStoreTest, MaxBatchSizeSplitsTransactions) {
  SqliteOptions options;
  options.max_batch_size = 16;
  auto store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  store->writer_for_testing().PauseForTesting();
  std::vector<std::thread> threads;
  for (int i = 0; i < 64; ++i) {
    threads.emplace_back([&, i] { (void)store->CreateRun(MakeRun("r" + std::to_string(i))); });
  }
  while (store->writer_for_testing().PendingForTesting() < 64) std::this_thread::yield();
  store->writer_for_testing().ResumeForTesting();
  for (auto& th : threads) th.join();
  EXPECT_EQ(store->writer_stats().transactions, 4);
  Result<RunPage> page = store->ListRuns(RunsPage(100));
  ASSERT_OK(page);
  EXPECT_EQ(page->runs.size(), 64u);
}

TEST_F(SqliteRunStoreTest, ConcurrentCreatesShareCommits) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  constexpr int kWriters = 64;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      ready++;
      while (ready.load() < kWriters) std::this_thread::yield();
      (void)store->CreateRun(MakeRun("r" + std::to_string(i)));
    });
  }
  for (auto& th : threads) th.join();
  WriterStats stats = store->writer_stats();
  EXPECT_EQ(stats.writes, kWriters);
  // Without any forcing, writers that arrive during an fsync join the next transaction.
  EXPECT_LT(stats.transactions, kWriters / 2);
}

TEST_F(SqliteRunStoreTest, FailingWriteInABatchIsRolledBackAlone) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->CreateRun(MakeRun("taken", 1)));
  int64_t transactions_before = store->writer_stats().transactions;
  store->writer_for_testing().PauseForTesting();
  Status dup, fresh, bad_move, good_move;
  std::thread t1([&] {
    Result<CreateRunResult> r = store->CreateRun(MakeRun("taken", 2));
    dup = r.status();
  });
  std::thread t2([&] {
    Result<CreateRunResult> r = store->CreateRun(MakeRun("fresh", 3));
    fresh = r.status();
  });
  std::thread t3([&] {
    RunTransition t;
    t.run_id = "taken";
    t.to = State::kUnknown;  // backwards: refused
    Result<TransitionOutcome> r = store->TransitionRun(t);
    bad_move = r.status();
  });
  while (store->writer_for_testing().PendingForTesting() < 3) std::this_thread::yield();
  std::thread t4([&] {
    RunTransition t;
    t.run_id = "taken";
    t.to = State::kRunning;
    t.at = 10;
    Result<TransitionOutcome> r = store->TransitionRun(t);
    good_move = r.status();
  });
  while (store->writer_for_testing().PendingForTesting() < 4) std::this_thread::yield();
  store->writer_for_testing().ResumeForTesting();
  t1.join();
  t2.join();
  t3.join();
  t4.join();
  EXPECT_EQ(store->writer_stats().transactions - transactions_before, 1);
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(fresh.ok()) << fresh.ToString();
  EXPECT_EQ(bad_move.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(good_move.ok()) << good_move.ToString();
  Result<RunRecord> taken = store->GetRun("taken");
  ASSERT_OK(taken);
  EXPECT_EQ(taken->submitted_at, 1);
  EXPECT_EQ(taken->state, State::kRunning);
  ASSERT_OK(store->GetRun("fresh"));
  Result<HistoryPage> h = store->ListHistory({"taken", 10, std::nullopt});
  ASSERT_OK(h);
  EXPECT_EQ(h->events.size(), 2u);
}

TEST_F(SqliteRunStoreTest, DestructorFinishesQueuedWrites) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    store->writer_for_testing().PauseForTesting();
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([&, i] {
        if (store->CreateRun(MakeRun("r" + std::to_string(i))).ok()) ok++;
      });
    }
    while (store->writer_for_testing().PendingForTesting() < 8) std::this_thread::yield();
    // The store is destroyed while paused with 8 writes queued (callers already inside).
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 8);
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  Result<RunPage> page = store->ListRuns(RunsPage(100));
  ASSERT_OK(page);
  EXPECT_EQ(page->runs.size(), 8u);
}

TEST_F(SqliteRunStoreTest, MigrationsAreRecordedAndAppliedOnce) {
  { ASSERT_NE(OpenStore(), nullptr); }
  EXPECT_EQ(Query("SELECT version || ' ' || name FROM schema_migrations"),
            (std::vector<std::string>{
                "1 0001_init.sql", "2 0002_run_events.sql", "3 0003_task_launch_spec.sql",
                "4 0004_run_index.sql", "5 0005_outbox_stats.sql", "6 0006_run_archive.sql",
                "7 0007_cheaper_run_updates.sql", "8 0008_covering_index_tag_blobs.sql",
                "9 0009_packed_history.sql", "10 0010_packed_task_state.sql"}));
  std::vector<std::string> applied_at = Query("SELECT applied_at FROM schema_migrations");
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->CreateRun(MakeRun("kept")));
  }
  auto store = OpenStore();  // a re-applied 0001 would fail on CREATE TABLE runs
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->GetRun("kept"));
  EXPECT_EQ(Query("SELECT count(*) FROM schema_migrations"), std::vector<std::string>{"10"});
  EXPECT_EQ(Query("SELECT applied_at FROM schema_migrations"), applied_at);
  EXPECT_EQ(Query("PRAGMA journal_mode"), std::vector<std::string>{"wal"});
}

TEST_F(SqliteRunStoreTest, EmbeddedMigrationsAreNumberedFromOne) {
  std::span<const Migration> migrations = EmbeddedMigrations();
  ASSERT_FALSE(migrations.empty());
  for (size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i + 1));
    EXPECT_FALSE(migrations[i].sql.empty());
  }
  EXPECT_EQ(migrations[0].name, "0001_init.sql");
}

TEST_F(SqliteRunStoreTest, NewerSchemaIsRefused) {
  { ASSERT_NE(OpenStore(), nullptr); }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (99, '0099_future.sql', 0)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  Result<std::unique_ptr<SqliteRunStore>> store = SqliteRunStore::Open(path_, {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition) << store.status().ToString();
}

TEST_F(SqliteRunStoreTest, OpenFailuresAreIoErrors) {
  Result<std::unique_ptr<SqliteRunStore>> missing_dir =
      SqliteRunStore::Open(dir_ + "/no/such/dir/runs.db", {});
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.status().code(), StatusCode::kIo) << missing_dir.status().ToString();
  EXPECT_NE(missing_dir.status().message().find("no/such/dir"), std::string::npos);

  std::ofstream(path_) << "this is not an SQLite database, just some text that is long enough "
                          "to fill a header and then some more text to be sure of it.";
  Result<std::unique_ptr<SqliteRunStore>> garbage = SqliteRunStore::Open(path_, {});
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.status().code(), StatusCode::kIo) << garbage.status().ToString();
}

TEST_F(SqliteRunStoreTest, InvalidUtf8IsRefusedNotThrown) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  NewRun run = MakeRun("r1");
  run.request.tags["bad"] = std::string("\xff\xfe", 2);
  Result<CreateRunResult> r = store->CreateRun(run);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->GetRun("r1").status().code(), StatusCode::kNotFound);
}

// A run state change keeps 14 indexes (4 of them partial) and the counts up to date. SQLite
// evaluates each partial index's WHERE clause on the old and new row of every UPDATE, and an
// `IN (...)` list there costs an ephemeral table per evaluation: ~60% of a state change
// before migration 0007. Guard against one coming back.
TEST_F(SqliteRunStoreTest, RunStateChangeNeedsNoEphemeralTables) {
  { ASSERT_NE(OpenStore(), nullptr); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  for (const char* text : {sql::kUpdateRun, sql::kPutTaskChunk}) {
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, (std::string("EXPLAIN ") + text).c_str(), -1, &stmt,
                                 nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    int ops = 0;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::string opcode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
      EXPECT_NE(opcode, "OpenEphemeral") << text;
      ++ops;
    }
    EXPECT_GT(ops, 10) << text;
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
}

TEST_F(SqliteRunStoreTest, HotQueriesUseIndexes) {
  { ASSERT_NE(OpenStore(), nullptr); }
  EXPECT_NE(QueryPlan(sql::kGetRunStatus).find("USING INDEX sqlite_autoindex_runs_1 (id=?)"),
            std::string::npos)
      << QueryPlan(sql::kGetRunStatus);
  EXPECT_NE(QueryPlan(sql::kListRuns).find("SEARCH runs USING INTEGER PRIMARY KEY"),
            std::string::npos)
      << QueryPlan(sql::kListRuns);
  std::string claim = QueryPlan(sql::kClaimRuns);
  EXPECT_NE(claim.find("runs_active"), std::string::npos) << claim;
  EXPECT_EQ(claim.find("SCAN runs\n"), std::string::npos) << claim;
  std::string claim_free = QueryPlan(sql::kClaimFreeRuns);
  EXPECT_NE(claim_free.find("runs_active"), std::string::npos) << claim_free;
  std::string renew = QueryPlan(sql::kRenewLeases);
  EXPECT_NE(renew.find("runs_active_by_owner (owner=?)"), std::string::npos) << renew;
  std::string tasks = QueryPlan(sql::kListTasks);
  EXPECT_NE(tasks.find("SEARCH tasks USING PRIMARY KEY (run_seq=? AND seq>?)"), std::string::npos)
      << tasks;
  std::string history = QueryPlan(sql::kReadHistoryRows);
  EXPECT_NE(history.find("SEARCH history USING PRIMARY KEY (run_seq=? AND first_seq>?)"),
            std::string::npos)
      << history;
  EXPECT_EQ(history.find("SCAN"), std::string::npos) << history;
  std::string last_history = QueryPlan(sql::kLastHistorySeq);
  EXPECT_NE(last_history.find("SEARCH history USING PRIMARY KEY (run_seq=?)"), std::string::npos)
      << last_history;
  EXPECT_EQ(last_history.find("TEMP B-TREE"), std::string::npos) << last_history;
  std::string batch_ids = QueryPlan(sql::kTaskSeqsOfRun);
  EXPECT_NE(batch_ids.find("COVERING INDEX tasks_by_id (run_seq=?)"), std::string::npos)
      << batch_ids;
  std::string task_ids = QueryPlan(sql::kTaskIdsOfRun);
  EXPECT_NE(task_ids.find("(run_seq=?)"), std::string::npos) << task_ids;
  EXPECT_EQ(task_ids.find("SCAN"), std::string::npos) << task_ids;
  std::string task = QueryPlan(sql::kGetTask);
  EXPECT_NE(task.find("tasks_by_id (run_seq=? AND id=?)"), std::string::npos) << task;
  std::string events = QueryPlan(sql::kListRunEvents);
  EXPECT_NE(events.find("SEARCH run_events USING PRIMARY KEY (run_seq=? AND seq>?)"),
            std::string::npos) << events;
  std::string replay = QueryPlan(sql::kListReplayRunEvents);
  EXPECT_NE(replay.find("run_events_replay"), std::string::npos) << replay;
  std::string derived = QueryPlan(sql::kListHistoryRunEvents);
  EXPECT_NE(derived.find("USING PRIMARY KEY (run_seq=? AND seq>?)"), std::string::npos)
      << derived;
  std::string last = QueryPlan(sql::kLastRunEventSeq);
  EXPECT_EQ(last.find("SCAN"), std::string::npos) << last;
  std::string counts = QueryPlan(sql::kCountRunsByState);
  EXPECT_NE(counts.find("run_state_counts"), std::string::npos) << counts;
  EXPECT_EQ(counts.find(" runs "), std::string::npos) << counts;
}

TEST_F(SqliteRunStoreTest, RunsWithTasksAndHistoryStayCompact) {
  constexpr int kRuns = 200;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    std::vector<std::thread> threads;
    for (int w = 0; w < 8; ++w) {
      threads.emplace_back([&, w] {
        for (int i = w; i < kRuns; i += 8) {
          std::string id = "0196f4c2-7a1e-7b3d-9c1a-" + std::to_string(100000000000 + i);
          NewRun run = MakeRun(id, 1'700'000'000'000'000 + i);
          run.request.workflow_params = R"({"sample": "S1", "reference": "GRCh38"})";
          (void)store->CreateRun(run);
          RunTransition t;
          t.run_id = id;
          t.to = State::kRunning;
          t.at = run.submitted_at + 1000;
          t.start_time = t.at;
          (void)store->TransitionRun(t);
          for (int k = 0; k < 10; ++k) {
            TaskRecord task;
            task.run_id = id;
            task.id = "task-" + std::to_string(k);
            task.name = "align chunk " + std::to_string(k);
            task.cmd = {"bwa", "mem", "ref.fa", "chunk" + std::to_string(k) + ".fq"};
            task.executor = "local";
            task.created_at = t.at + k;
            (void)store->CreateTask(task);
            for (State s : {State::kInitializing, State::kRunning, State::kComplete}) {
              TaskTransition tt;
              tt.run_id = id;
              tt.task_id = task.id;
              tt.to = s;
              tt.at = task.created_at + 10;
              if (s == State::kInitializing) tt.executor_job_id = "12345" + std::to_string(k);
              if (s == State::kComplete) tt.exit_code = 0;
              (void)store->TransitionTask(tt);
            }
          }
          t.to = State::kComplete;
          t.end_time = t.at + 5000;
          t.at = *t.end_time;
          (void)store->TransitionRun(t);
        }
      });
    }
    for (auto& th : threads) th.join();
    Result<std::map<State, int64_t>> counts = store->CountRunsByState();
    ASSERT_OK(counts);
    ASSERT_EQ(*counts, (std::map<State, int64_t>{{State::kComplete, kRuns}}));
    // The outbox is a feed pruned by age (its size follows the event rate, not the number of
    // runs kept): measured apart, then emptied as the pruner would.
    std::vector<std::string> outbox =
        Query("SELECT sum(length(events) + 24) / " + std::to_string(kRuns) + " FROM outbox");
    if (!outbox.empty()) RecordProperty("outbox_bytes_per_run_approx", outbox[0]);
    Result<int64_t> pruned = store->PruneOutbox(std::numeric_limits<Micros>::max(), 1 << 30);
    ASSERT_OK(pruned);
  }
  // Bytes used by the tables and indexes (pages actually holding data).
  std::vector<std::string> bytes = Query(
      "SELECT (SELECT page_count - freelist_count FROM pragma_page_count, pragma_freelist_count)"
      " * (SELECT page_size FROM pragma_page_size)");
  ASSERT_EQ(bytes.size(), 1u);
  double per_run = std::stod(bytes[0]) / kRuns;
  RecordProperty("bytes_per_run", std::to_string(per_run));
  // Measured 3,666 B at this size (9 fixed pages included; 3,789 B before the packed history
  // and task state of 0009/0010: each event here is its own write, so history rows stay one
  // per event). Ended runs are archived to ~1.4 KB (archive_ops.h). This guards against
  // growth.
  EXPECT_LT(per_run, 4 * 1024) << "bytes per run with 10 tasks and 43 history events";
}

// --- outbox and state sync's batch (0005_outbox_stats.sql) ---

TEST_F(SqliteRunStoreTest, TransitionTasksIsOneTransactionAndOneOutboxRow) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->CreateRun(MakeRun("r", 100)));
  std::vector<TaskTransition> batch;
  for (int i = 0; i < 50; ++i) {
    TaskRecord task;
    task.run_id = "r";
    task.id = "t" + std::to_string(i);
    task.name = task.id;
    task.executor = "local";
    task.created_at = 200;
    ASSERT_OK(store->CreateTask(task));
    TaskTransition t;
    t.run_id = "r";
    t.task_id = task.id;
    t.to = State::kRunning;
    t.at = 300 + i;
    batch.push_back(t);
  }
  int64_t transactions = store->writer_stats().transactions;
  std::vector<std::string> rows_before = Query("SELECT count(*) FROM outbox");
  std::vector<Result<TransitionOutcome>> results = store->TransitionTasks(batch);
  for (const auto& r : results) ASSERT_OK(r);
  EXPECT_EQ(store->writer_stats().transactions, transactions + 1);
  ASSERT_EQ(rows_before.size(), 1u);
  EXPECT_EQ(Query("SELECT count(*) FROM outbox"),
            std::vector<std::string>{std::to_string(std::stoi(rows_before[0]) + 1)});
  Result<std::vector<ChangeEvent>> events = store->ReadOutbox(0, 1000);
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), 1u + 50u + 50u);  // run created, tasks created, tasks running
  EXPECT_EQ(events->back().task_id, "t49");
  EXPECT_EQ(events->back().at, 349);
  // A reader resuming in the middle of the packed row gets the rest of it.
  Result<std::vector<ChangeEvent>> rest = store->ReadOutbox((*events)[70].seq, 1000);
  ASSERT_OK(rest);
  ASSERT_EQ(rest->size(), 30u);
  EXPECT_EQ(rest->front().seq, (*events)[71].seq);
}

TEST_F(SqliteRunStoreTest, AFailedWriteLeavesNoOutboxEntry) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  Status st = store->writer_for_testing().Submit([](Connection&) {
    PendingOutbox().Add("ghost", "", 1, State::kUnknown, State::kQueued, 5, "");
    return Internal("the write failed after queuing an event");
  });
  EXPECT_FALSE(st.ok());
  ASSERT_OK(store->CreateRun(MakeRun("real", 100)));
  Result<std::vector<ChangeEvent>> events = store->ReadOutbox(0, 100);
  ASSERT_OK(events);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].run_id, "real");
  EXPECT_EQ((*events)[0].seq, 1);
}

TEST_F(SqliteRunStoreTest, StaleTasksAreFoundThroughActiveRuns) {
  { ASSERT_NE(OpenStore(), nullptr); }
  std::string plan = QueryPlan(sql::kActiveTaskChunks);
  EXPECT_NE(plan.find("runs_active"), std::string::npos) << plan;
  EXPECT_NE(plan.find("SEARCH s USING PRIMARY KEY (run_seq=?)"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("SCAN s"), std::string::npos) << plan;
}

// Tags are stored as a blob (row_codec.h EncodeTags); rows written before that hold JSON
// text and are read, listed and patched as before.
TEST_F(SqliteRunStoreTest, TagsAreStoredAsABlobAndOlderJsonRowsStillRead) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  NewRun fresh = MakeRun("fresh");
  fresh.request.tags = {{"user", "ann"}, {"project", "p\"1\u00e9"}, {"empty", ""}};
  ASSERT_OK(store->CreateRun(fresh));
  NewRun old = MakeRun("old", 2000);
  old.request.tags = {{"user", "bob"}, {"project", "p2"}};
  ASSERT_OK(store->CreateRun(old));
  EXPECT_EQ(Query("SELECT typeof(tags) FROM runs WHERE id = 'fresh'"),
            std::vector<std::string>{"blob"});
  store.reset();
  {  // what a store before the blob encoding wrote
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "UPDATE runs SET tags = '{\"project\":\"p2\",\"user\":\"bob\"}' "
                           "WHERE id = 'old'",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  ASSERT_EQ(Query("SELECT typeof(tags) FROM runs WHERE id = 'old'"),
            std::vector<std::string>{"text"});
  store = OpenStore();
  ASSERT_NE(store, nullptr);
  Result<RunRecord> got = store->GetRun("fresh");
  ASSERT_OK(got);
  EXPECT_EQ(got->request.tags, fresh.request.tags);
  got = store->GetRun("old");
  ASSERT_OK(got);
  EXPECT_EQ(got->request.tags, old.request.tags);

  RunListQuery q;
  q.summary = true;
  q.page_size = 10;
  Result<RunPage> page = store->ListRuns(q);
  ASSERT_OK(page);
  ASSERT_EQ(page->runs.size(), 2u);
  EXPECT_EQ(page->runs[0].request.tags, old.request.tags);
  EXPECT_EQ(page->runs[1].request.tags, fresh.request.tags);

  // Patching the old row rewrites it as a blob.
  Result<RunRecord> patched = store->UpdateTags("old", {{"stage", "qc"}}, {"project"}, 3000);
  ASSERT_OK(patched);
  StringMap want = {{"user", "bob"}, {"stage", "qc"}};
  EXPECT_EQ(patched->request.tags, want);
  EXPECT_EQ(Query("SELECT typeof(tags) FROM runs WHERE id = 'old'"),
            std::vector<std::string>{"blob"});
  EXPECT_EQ(store->GetRun("old")->request.tags, want);
}

// A user + state listing reads only the covering index (0008), never the runs table.
TEST_F(SqliteRunStoreTest, UserStateListingReadsTheCoveringIndexOnly) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 30; ++i) {
    NewRun n = MakeRun("r" + std::to_string(i), 1000 + i);
    n.user = i % 2 ? "ann" : "bob";
    n.request.tags = {{"user", n.user}, {"project", i % 3 ? "p1" : "p2"}};
    ASSERT_OK(store->CreateRun(n));
  }
  RunListQuery q;
  q.summary = true;
  q.page_size = 4;
  q.filter.user = "ann";
  q.filter.states = {State::kQueued};
  q.filter.tags = {{"project", "p1"}};
  std::vector<std::string> seen;
  for (;;) {
    Result<RunPage> page = store->ListRuns(q);
    ASSERT_OK(page);
    for (const RunRecord& r : page->runs) {
      seen.push_back(r.id);
      EXPECT_EQ(r.user, "ann");
      EXPECT_EQ(r.request.tags.at("project"), "p1");
      EXPECT_EQ(r.request.workflow_type, "MOCK");
      EXPECT_EQ(r.submitted_at, 1000 + std::stoi(r.id.substr(1)));
    }
    if (!page->next) break;
    q.after = page->next;
  }
  // Odd i (ann) with i % 3 != 0, newest first.
  std::vector<std::string> want;
  for (int i = 29; i >= 0; --i) {
    if (i % 2 == 1 && i % 3 != 0) want.push_back("r" + std::to_string(i));
  }
  EXPECT_EQ(seen, want);
}

// A store written by a binary before 0008 (JSON tags, tag counts kept through json_each)
// upgrades: its runs read back, and its tag counts follow state changes and deletion.
TEST_F(SqliteRunStoreTest, RunsFromBeforeTagBlobsKeepTheirCountsAfterTheUpgrade) {
  {
    Result<std::unique_ptr<Connection>> db = Connection::Open(path_, {});
    ASSERT_OK(db);
    ASSERT_TRUE((*db)->Exec("PRAGMA journal_mode = WAL").ok());
    ASSERT_TRUE(ApplyMigrations(**db, EmbeddedMigrations().first(7)).ok());
    ASSERT_TRUE(
        (*db)
            ->Exec(
                "INSERT INTO runs (id, state, workflow_type, workflow_type_version, workflow_url, "
                "workflow_params, workflow_engine, workflow_engine_version, tags, submitted_at, "
                "updated_at, user) VALUES ('old', 1, 'MOCK', '1.0', 'mock://x', '{}', '', '', "
                "'{\"project\":\"p1\",\"user\":\"ann\"}', 1000, 1000, 'ann');"
                "INSERT INTO run_tags (key, value, run_seq) SELECT 'project', 'p1', seq FROM runs;"
                "INSERT INTO run_tags (key, value, run_seq) SELECT 'user', 'ann', seq FROM runs;")
            .ok());
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  RunFilter p1;
  p1.tags = {{"project", "p1"}};
  auto count = [&](State s) {
    RunFilter f = p1;
    f.states = {s};
    Result<RunCount> c = store->CountRuns(f);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? c->count : -1;
  };
  EXPECT_EQ(count(State::kQueued), 1);
  Result<RunRecord> old = store->GetRun("old");
  ASSERT_OK(old);
  StringMap want = {{"project", "p1"}, {"user", "ann"}};
  EXPECT_EQ(old->request.tags, want);

  RunTransition t;
  t.run_id = "old";
  t.to = State::kCanceled;
  t.at = 2000;
  ASSERT_OK(store->TransitionRun(t));
  EXPECT_EQ(count(State::kQueued), 0);
  EXPECT_EQ(count(State::kCanceled), 1);
  // A new run (blob tags) is counted the same way.
  NewRun fresh = MakeRun("fresh", 3000);
  fresh.request.tags = {{"project", "p1"}};
  ASSERT_OK(store->CreateRun(fresh));
  EXPECT_EQ(count(State::kQueued), 1);

  ASSERT_TRUE(store->DeleteRun("old").ok());
  EXPECT_EQ(count(State::kCanceled), 0);
  EXPECT_EQ(count(State::kQueued), 1);
  EXPECT_EQ(Query("SELECT count(*) FROM run_tags"), std::vector<std::string>{"1"});
}

// A store written before 0009 (one history row per event) upgrades: its events read back as
// they were, with their task ids, and new events continue the run's seqs.
TEST_F(SqliteRunStoreTest, HistoryFromBeforePackedRowsReadsBackAfterTheUpgrade) {
  {
    Result<std::unique_ptr<Connection>> db = Connection::Open(path_, {});
    ASSERT_OK(db);
    ASSERT_TRUE((*db)->Exec("PRAGMA journal_mode = WAL").ok());
    ASSERT_TRUE(ApplyMigrations(**db, EmbeddedMigrations().first(8)).ok());
    Status st = (*db)->Exec(
        "INSERT INTO runs (id, state, workflow_type, workflow_type_version, workflow_url, "
        "workflow_params, workflow_engine, workflow_engine_version, submitted_at, updated_at, "
        "user) VALUES ('old', 3, 'MOCK', '1.0', 'mock://x', '{}', '', '', 1000, 1400, 'ann'),"
        " ('other', 1, 'MOCK', '1.0', 'mock://x', '{}', '', '', 1100, 1100, 'ann');"
        "INSERT INTO tasks (run_seq, seq, id, name, cmd, state, executor, executor_job_id, "
        "exit_code, start_time, system_logs, created_at, updated_at, launch_spec) "
        "VALUES (1, 1, 'task-a', 'a', '[\"echo\",\"a\"]', 3, 'local', '4242', NULL, 1250, "
        "'[\"node n1\"]', 1200, 1300, '{\"image\":\"x\"}'),"
        " (1, 2, 'task-b', 'b', NULL, 6, 'local', '4243', -9, 1210, NULL, 1200, 1350, NULL);"
        "INSERT INTO history (run_seq, seq, task_seq, type, from_state, to_state, at, reason) "
        "VALUES (1, 1, NULL, 1, 0, 1, 1000, 'submitted'),"
        " (1, 2, NULL, 1, 1, 2, 1100, ''),"
        " (1, 3, 1, 3, 0, 1, 1200, 'created'),"
        " (1, 4, 1, 2, 1, 3, 1300, 'started by été'),"
        " (2, 1, NULL, 1, 0, 1, 1100, 'submitted');");
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Query("SELECT run_seq || '|' || first_seq || '|' || n FROM history ORDER BY run_seq"),
            (std::vector<std::string>{"1|1|4", "2|1|1"}));
  HistoryQuery q;
  q.run_id = "old";
  Result<HistoryPage> page = store->ListHistory(q);
  ASSERT_OK(page);
  ASSERT_EQ(page->events.size(), 4u);
  const HistoryEvent& started = page->events[3];
  EXPECT_EQ(started.seq, 4);
  EXPECT_EQ(started.run_id, "old");
  EXPECT_EQ(started.task_id, "task-a");
  EXPECT_EQ(started.type, "TaskStateChanged");
  EXPECT_EQ(started.from, State::kQueued);
  EXPECT_EQ(started.to, State::kRunning);
  EXPECT_EQ(started.at, 1300);
  EXPECT_EQ(started.reason, "started by été");
  EXPECT_EQ(page->events[0].task_id, "");
  EXPECT_EQ(page->events[0].reason, "submitted");
  EXPECT_EQ(page->events[1].at, 1100);

  // 0010: the tasks' state moved into task_states, the rest stayed in their rows.
  EXPECT_EQ(Query("SELECT run_seq || '|' || chunk FROM task_states"),
            std::vector<std::string>{"1|0"});
  Result<TaskRecord> a = store->GetTask("old", "task-a");
  ASSERT_OK(a);
  EXPECT_EQ(a->seq, 1);
  EXPECT_EQ(a->name, "a");
  EXPECT_EQ(a->cmd, (std::vector<std::string>{"echo", "a"}));
  EXPECT_EQ(a->state, State::kRunning);
  EXPECT_EQ(a->executor, "local");
  EXPECT_EQ(a->executor_job_id, "4242");
  EXPECT_FALSE(a->exit_code.has_value());
  EXPECT_EQ(a->start_time, std::optional<Micros>(1250));
  EXPECT_FALSE(a->end_time.has_value());
  EXPECT_EQ(a->system_logs, std::vector<std::string>{"node n1"});
  EXPECT_EQ(a->created_at, 1200);
  EXPECT_EQ(a->updated_at, 1300);
  EXPECT_EQ(a->launch_spec, "{\"image\":\"x\"}");
  Result<TaskRecord> b = store->GetTask("old", "task-b");
  ASSERT_OK(b);
  EXPECT_EQ(b->state, State::kExecutorError);
  EXPECT_EQ(b->exit_code, std::optional<int>(-9));
  EXPECT_TRUE(b->system_logs.empty());
  EXPECT_TRUE(b->cmd.empty());

  TaskTransition t;
  t.run_id = "old";
  t.task_id = "task-a";
  t.to = State::kComplete;
  t.at = 1500;
  t.exit_code = 0;
  ASSERT_OK(store->TransitionTask(t));
  q.after_seq = 3;
  page = store->ListHistory(q);
  ASSERT_OK(page);
  ASSERT_EQ(page->events.size(), 2u);
  EXPECT_EQ(page->events[0].seq, 4);
  EXPECT_EQ(page->events[1].seq, 5);
  EXPECT_EQ(page->events[1].to, State::kComplete);
  EXPECT_EQ(page->events[1].task_id, "task-a");
  a = store->GetTask("old", "task-a");
  ASSERT_OK(a);
  EXPECT_EQ(a->state, State::kComplete);
  EXPECT_EQ(a->exit_code, std::optional<int>(0));
  EXPECT_EQ(a->executor_job_id, "4242");
}

// Task state is kept in chunks of 64 tasks (task_state_ops.h): a run of 130 tasks spans three,
// one batch changes tasks in all of them, and every read sees each task's own state.
TEST_F(SqliteRunStoreTest, TaskStatesAcrossChunksReadBackPerTask) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->CreateRun(MakeRun("big", 1000)));
  RunTransition running;
  running.run_id = "big";
  running.to = State::kRunning;
  running.at = 1001;
  ASSERT_OK(store->TransitionRun(running));
  constexpr int kTasks = 130;
  for (int i = 1; i <= kTasks; ++i) {
    TaskRecord task;
    task.run_id = "big";
    task.id = "t" + std::to_string(i);
    task.name = task.id;
    task.cmd = {"true"};
    task.executor = "local";
    task.created_at = task.updated_at = 2000 + i;
    Result<bool> created = store->CreateTask(task);
    ASSERT_OK(created);
    ASSERT_TRUE(*created);
  }
  EXPECT_EQ(Query("SELECT chunk FROM task_states ORDER BY chunk"),
            (std::vector<std::string>{"0", "1", "2"}));
  // One batch: tasks on both sides of each chunk boundary start, in shuffled order.
  const std::vector<int> picked = {130, 1, 65, 64, 129, 128};
  std::vector<TaskTransition> batch;
  for (int i : picked) {
    TaskTransition t;
    t.run_id = "big";
    t.task_id = "t" + std::to_string(i);
    t.to = State::kRunning;
    t.at = 5000 + i;
    t.executor_job_id = "job-" + std::to_string(i);
    t.start_time = 5000 + i;
    batch.push_back(t);
  }
  for (const Result<TransitionOutcome>& r : store->TransitionTasks(batch)) ASSERT_OK(r);
  TaskTransition done;
  done.run_id = "big";
  done.task_id = "t65";
  done.to = State::kComplete;
  done.at = 6000;
  done.exit_code = 0;
  ASSERT_OK(store->TransitionTask(done));

  TaskListQuery q;
  q.run_id = "big";
  q.page_size = 50;
  std::vector<TaskRecord> all;
  for (;;) {
    Result<TaskPage> page = store->ListTasks(q);
    ASSERT_OK(page);
    all.insert(all.end(), page->tasks.begin(), page->tasks.end());
    if (!page->next_after_seq) break;
    q.after_seq = page->next_after_seq;
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(kTasks));
  for (int i = 1; i <= kTasks; ++i) {
    const TaskRecord& t = all[static_cast<size_t>(i - 1)];
    SCOPED_TRACE(t.id);
    EXPECT_EQ(t.id, "t" + std::to_string(i));
    EXPECT_EQ(t.seq, i);
    bool started = std::find(picked.begin(), picked.end(), i) != picked.end();
    State want = i == 65 ? State::kComplete : started ? State::kRunning : State::kQueued;
    EXPECT_EQ(t.state, want);
    EXPECT_EQ(t.executor_job_id, started ? "job-" + std::to_string(i) : "");
    EXPECT_EQ(t.start_time, started ? std::optional<Micros>(5000 + i) : std::nullopt);
    EXPECT_EQ(t.updated_at, i == 65 ? 6000 : started ? 5000 + i : 2000 + i);
  }
  Result<TaskRecord> t129 = store->GetTask("big", "t129");
  ASSERT_OK(t129);
  EXPECT_EQ(t129->state, State::kRunning);
  EXPECT_EQ(t129->executor_job_id, "job-129");

  // Submitted and unfinished, least recently updated first: t65 has ended.
  Result<std::vector<TaskRecord>> stale = store->ListStaleTasks(10000, 3);
  ASSERT_OK(stale);
  std::vector<std::string> ids;
  for (const TaskRecord& t : *stale) ids.push_back(t.run_id + "/" + t.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"big/t1", "big/t64", "big/t128"}));
  stale = store->ListStaleTasks(5129, 10);  // updated before 5129: t1, t64, t128
  ASSERT_OK(stale);
  EXPECT_EQ(stale->size(), 3u);

  // Deleting the ended run takes its task state with it.
  running.to = State::kCanceled;
  running.at = 7000;
  ASSERT_OK(store->TransitionRun(running));
  ASSERT_TRUE(store->DeleteRun("big").ok());
  EXPECT_EQ(Query("SELECT count(*) FROM task_states"), std::vector<std::string>{"0"});
  EXPECT_EQ(Query("SELECT count(*) FROM tasks"), std::vector<std::string>{"0"});
  EXPECT_EQ(Query("SELECT count(*) FROM history"), std::vector<std::string>{"0"});
}

}  // namespace
}  // namespace sluice::store::sqlite
