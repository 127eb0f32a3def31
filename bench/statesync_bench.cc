// statesync_bench: state sync's apply rate beside its yardstick, in one run on one disk.
//
//  1. yardsticks: plain batched SQLite inserts, `--batch` rows per transaction, WAL,
//     synchronous=FULL, into a bare table (no index but the rowid), one row per event:
//     a. the events themselves, every field the executor reports (run id, task id, job id,
//        state, exit code, start, end, reason): what logging the event stream would cost;
//     b. four integers per row (run, task, state, time): the cheapest row there is.
//  2. state sync: a SqliteRunStore with `--runs` running runs of `--tasks` submitted tasks;
//     every task gets RUNNING then COMPLETE as executor events through StateSync (two producer
//     threads, at most `--backlog` events queued ahead of it), and the clock stops when the
//     last change is durable. Each event changes the task's entry in its run's task_states
//     row and joins the run's history row and the batch's outbox row (plus maintained counts).
// `--rounds` (3) alternates 1 and 2, each round on runs of its own, so that a fast or slow
// minute of the disk does not fall on one side only. Prints one JSON object with the medians
// over the rounds: {"event_rows_per_second", "insert_rows_per_second", "events_per_second",
// "ratio" (vs a), "ratio_int_rows" (vs b), "rounds": [each round's figures], ...}.
//
//   statesync_bench --dir /same/disk/tmp --runs 2000 --tasks 10
#include <sqlite3.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "service/state_sync.h"
#include "store/sqlite/sqlite_run_store.h"

using namespace sluice;
using SteadyClock = std::chrono::steady_clock;

namespace {

bool Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    return false;
  }
  return true;
}

// A fresh yardstick database at `path` (WAL, synchronous=FULL) with the table `create` makes;
// `*insert` is `insert_sql` prepared. nullptr if it cannot be opened.
sqlite3* OpenYardstick(const std::string& path, const char* create, const char* insert_sql,
                       sqlite3_stmt** insert) {
  std::filesystem::remove(path);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return nullptr;
  Exec(db, "PRAGMA journal_mode=WAL");
  Exec(db, "PRAGMA synchronous=FULL");
  Exec(db, create);
  sqlite3_prepare_v2(db, insert_sql, -1, insert, nullptr);
  return db;
}

// Rows per second of batched durable inserts of `rows` rows of four integers.
double InsertBaseline(const std::string& path, int rows, int batch) {
  sqlite3_stmt* ins = nullptr;
  sqlite3* db = OpenYardstick(
      path,
      "CREATE TABLE events (seq INTEGER PRIMARY KEY, run INTEGER NOT NULL, task INTEGER NOT "
      "NULL, state INTEGER NOT NULL, at INTEGER NOT NULL)",
      "INSERT INTO events (run, task, state, at) VALUES (?, ?, ?, ?)", &ins);
  if (db == nullptr) return 0;
  auto start = SteadyClock::now();
  for (int i = 0; i < rows;) {
    Exec(db, "BEGIN");
    for (int j = 0; j < batch && i < rows; ++j, ++i) {
      sqlite3_bind_int64(ins, 1, i / 10);
      sqlite3_bind_int64(ins, 2, i % 10);
      sqlite3_bind_int64(ins, 3, 3 + (i & 1) * 2);
      sqlite3_bind_int64(ins, 4, 1800000000000000 + i);
      sqlite3_step(ins);
      sqlite3_reset(ins);
    }
    Exec(db, "COMMIT");
  }
  double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return rows / seconds;
}

// Rows per second of batched durable inserts of the `rows` events the state sync phase
// applies (the same ids and fields), one row each.
double InsertEventRows(const std::string& path, int runs, int tasks, int batch) {
  sqlite3_stmt* ins = nullptr;
  sqlite3* db = OpenYardstick(
      path,
      "CREATE TABLE events (seq INTEGER PRIMARY KEY, run_id TEXT NOT NULL, task_id TEXT NOT "
      "NULL, job_id TEXT NOT NULL, state INTEGER NOT NULL, exit_code INTEGER, start_time "
      "INTEGER, end_time INTEGER, reason TEXT NOT NULL)",
      "INSERT INTO events (run_id, task_id, job_id, state, exit_code, start_time, end_time, "
      "reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      &ins);
  if (db == nullptr) return 0;
  SystemClock clock;
  int in_batch = 0, rows = 0;
  auto start = SteadyClock::now();
  Exec(db, "BEGIN");
  for (State to : {State::kRunning, State::kComplete}) {
    for (int i = 0; i < runs; ++i) {
      for (int k = 0; k < tasks; ++k) {
        // Built per row, as the events are in the state sync phase.
        std::string run_id = "sync-" + std::to_string(i);
        std::string task_id = "task-" + std::to_string(k + 1);
        std::string job_id = std::to_string(100000 + k);
        Micros now = clock.Now();
        bool done = to == State::kComplete;
        sqlite3_bind_text(ins, 1, run_id.data(), static_cast<int>(run_id.size()), SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, task_id.data(), static_cast<int>(task_id.size()), SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, job_id.data(), static_cast<int>(job_id.size()), SQLITE_STATIC);
        sqlite3_bind_int64(ins, 4, static_cast<int64_t>(to));
        if (done) {
          sqlite3_bind_int64(ins, 5, 0);
          sqlite3_bind_int64(ins, 7, now);
        } else {
          sqlite3_bind_null(ins, 5);
          sqlite3_bind_null(ins, 7);
        }
        sqlite3_bind_int64(ins, 6, now);
        sqlite3_bind_text(ins, 8, done ? "exit code 0" : "", -1, SQLITE_STATIC);
        sqlite3_step(ins);
        sqlite3_reset(ins);
        ++rows;
        if (++in_batch == batch) {
          Exec(db, "COMMIT");
          Exec(db, "BEGIN");
          in_batch = 0;
        }
      }
    }
  }
  Exec(db, "COMMIT");
  double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  sqlite3_finalize(ins);
  sqlite3_close(db);
  return rows / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"state sync apply rate vs batched SQLite inserts"};
  std::string dir;
  int runs = 2000, tasks = 10, batch = 512, rounds = 3;
  int64_t backlog = 8 * 512;
  app.add_option("--dir", dir, "scratch directory on the disk to measure")->required();
  app.add_option("--runs", runs);
  app.add_option("--tasks", tasks);
  app.add_option("--batch", batch, "rows per transaction (yardstick and state sync)");
  app.add_option("--backlog", backlog,
                 "events the producers keep queued ahead of state sync at most");
  app.add_option("--rounds", rounds,
                 "rounds of yardsticks then state sync (fresh runs each); the figures are the "
                 "medians")
      ->check(CLI::Range(1, 99));
  CLI11_PARSE(app, argc, argv);
  std::filesystem::create_directories(dir);
  const int events = runs * tasks * 2;  // per round

  std::filesystem::remove_all(dir + "/store");
  std::filesystem::create_directories(dir + "/store");
  auto store = store::sqlite::SqliteRunStore::Open(dir + "/store/sluice.db", {});
  if (!store.ok()) {
    std::fprintf(stderr, "statesync_bench: %s\n", store.status().ToString().c_str());
    return 1;
  }
  store::RunStore& st = **store;
  SystemClock clock;
  // Set-up through the public API, from many threads so group commit batches it.
  std::atomic<int> next{0}, failures{0};
  auto check = [&](const Status& s) {
    if (!s.ok() && failures++ < 5) std::fprintf(stderr, "%s\n", s.ToString().c_str());
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < 64; ++w) {
    pool.emplace_back([&] {
      for (int i = next++; i < runs * rounds; i = next++) {
        store::NewRun nr;
        nr.id = "sync-" + std::to_string(i);
        nr.submitted_at = clock.Now();
        nr.request.workflow_type = "MOCK";
        nr.request.workflow_type_version = "1.0";
        nr.request.workflow_url = "mock://bench";
        check(st.CreateRun(nr).status());
        for (State to : {State::kInitializing, State::kRunning}) {
          store::RunTransition t;
          t.run_id = nr.id;
          t.to = to;
          t.at = clock.Now();
          check(st.TransitionRun(t).status());
        }
        for (int k = 0; k < tasks; ++k) {
          store::TaskRecord task;
          task.run_id = nr.id;
          task.id = "task-" + std::to_string(k + 1);
          task.name = task.id;
          task.cmd = {"sluice-mock-task", "0"};
          task.executor = "local";
          task.created_at = task.updated_at = clock.Now();
          check(st.CreateTask(task).status());
          store::TaskTransition t;
          t.run_id = nr.id;
          t.task_id = task.id;
          t.to = State::kInitializing;
          t.at = clock.Now();
          t.executor_job_id = std::to_string(100000 + k);
          check(st.TransitionTask(t).status());
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  if (failures > 0) return 1;

  service::StateSyncOptions options;
  options.max_batch = batch;
  options.reconcile_every = 0;
  service::StateSync sync(st, clock, options);
  std::atomic<int64_t> changed{0};
  sync.SetListener([&](const std::vector<service::TaskChange>& changes) {
    changed += static_cast<int64_t>(changes.size());
  });
  if (Status s = sync.Start(); !s.ok()) {
    std::fprintf(stderr, "statesync_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  // Rounds alternate the yardsticks and state sync (each round on runs of its own), so that a
  // fast or slow minute of the disk does not fall on one side only; the figures are medians.
  // Executors report from their own threads: two producers, each half of the runs. Like
  // executors, which report as things happen, they do not run arbitrarily far ahead: each
  // waits while more than `backlog` events are queued and not yet applied (enough to keep
  // state sync's pipeline full), so the measure is the apply rate, not the cost of growing a
  // queue of every event at once. The line on stderr lets a profiler attach for this phase.
  std::atomic<int64_t> produced{0};
  nlohmann::json per_round = nlohmann::json::array();
  std::vector<double> row_rates, int_rates, event_rates, ratios, int_ratios;
  for (int round = 0; round < rounds; ++round) {
    double event_row_rate = InsertEventRows(dir + "/event_rows.db", runs, tasks, batch);
    double insert_rate = InsertBaseline(dir + "/baseline.db", events, batch);
    std::fprintf(stderr, "statesync_bench: applying %d events\n", events);
    const int64_t goal = static_cast<int64_t>(events) * (round + 1);
    auto start = SteadyClock::now();
    std::vector<std::thread> producers;
    for (int p = 0; p < 2; ++p) {
      producers.emplace_back([&, p] {
        for (State to : {State::kRunning, State::kComplete}) {
          for (int i = round * runs + p; i < (round + 1) * runs; i += 2) {
            while (produced.load() - changed.load() > backlog) {
              std::this_thread::sleep_for(std::chrono::microseconds(100));
            }
            produced += tasks;
            for (int k = 0; k < tasks; ++k) {
              exec::ExecutorEvent e;
              e.run_id = "sync-" + std::to_string(i);
              e.task_id = "task-" + std::to_string(k + 1);
              e.job_id = std::to_string(100000 + k);
              e.state = to;
              Micros now = clock.Now();
              e.start_time = now;
              if (to == State::kComplete) {
                e.exit_code = 0;
                e.end_time = now;
                e.reason = "exit code 0";
              }
              sync.OnExecutorEvent(e);
            }
          }
        }
      });
    }
    for (auto& t : producers) t.join();
    while (changed.load() < goal) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (std::chrono::duration<double>(SteadyClock::now() - start).count() > 600) break;
    }
    double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    if (changed.load() != goal) break;
    double event_rate = static_cast<double>(events) / seconds;
    row_rates.push_back(event_row_rate);
    int_rates.push_back(insert_rate);
    event_rates.push_back(event_rate);
    ratios.push_back(event_rate / event_row_rate);
    int_ratios.push_back(event_rate / insert_rate);
    per_round.push_back({{"event_rows_per_second", event_row_rate},
                         {"insert_rows_per_second", insert_rate},
                         {"events_per_second", event_rate},
                         {"ratio", event_rate / event_row_rate}});
  }
  service::StateSyncCounters c = sync.Counters();
  sync.Stop();
  const bool complete = static_cast<int>(event_rates.size()) == rounds;
  auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  nlohmann::json out = {{"events", static_cast<int64_t>(events) * rounds},
                        {"applied", c.applied},
                        {"stale", c.stale},
                        {"batches", c.batches},
                        {"rounds", per_round},
                        {"event_rows_per_second", median(row_rates)},
                        {"insert_rows_per_second", median(int_rates)},
                        {"events_per_second", median(event_rates)},
                        {"ratio", median(ratios)},
                        {"ratio_int_rows", median(int_ratios)}};
  std::printf("%s\n", out.dump().c_str());
  return complete ? 0 : 1;
}
