// fill_store: loads a Sluice SQLite store with N finished runs (each with T finished tasks
// and its full history) through the real SqliteRunStore, for the memory and start-up
// figures. Runs are COMPLETE, so a server started on the store has nothing to drive.
//
//   fill_store --db DIR/sluice.db --runs 100000 --tasks 3
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "store/sqlite/sqlite_run_store.h"

using namespace sluice;

int main(int argc, char** argv) {
  CLI::App app{"fill a Sluice SQLite store with finished runs"};
  std::string db;
  int runs = 100000, tasks = 3, threads = 128;
  app.add_option("--db", db)->required();
  app.add_option("--runs", runs);
  app.add_option("--tasks", tasks);
  app.add_option("--threads", threads);
  CLI11_PARSE(app, argc, argv);
  std::filesystem::create_directories(std::filesystem::path(db).parent_path());
  auto store = store::sqlite::SqliteRunStore::Open(db, {});
  if (!store.ok()) {
    std::fprintf(stderr, "fill_store: %s\n", store.status().ToString().c_str());
    return 1;
  }
  SystemClock clock;
  std::atomic<int> next{0}, failures{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int w = 0; w < threads; ++w) {
    pool.emplace_back([&] {
      auto check = [&](const Status& st) {
        if (!st.ok() && failures++ < 5) std::fprintf(stderr, "%s\n", st.ToString().c_str());
      };
      for (int i = next++; i < runs; i = next++) {
        store::NewRun nr;
        char id[40];
        std::snprintf(id, sizeof id, "bench-%08d", i);
        nr.id = id;
        nr.submitted_at = clock.Now();
        nr.request.workflow_type = "MOCK";
        nr.request.workflow_type_version = "1.0";
        nr.request.workflow_url = "mock://bench";
        nr.request.workflow_params = R"({"tasks":3,"task_seconds":1})";
        nr.request.tags = {{"project", "p" + std::to_string(i % 50)}, {"user", "u" + std::to_string(i % 7)}};
        check(store.value()->CreateRun(nr).status());
        auto step = [&](State to, bool end) {
          store::RunTransition t;
          t.run_id = nr.id;
          t.to = to;
          t.at = clock.Now();
          t.reason = "bench";
          if (to == State::kRunning) t.start_time = t.at;
          if (end) {
            t.end_time = t.at;
            t.outputs = R"({"tasks_completed":3})";
          }
          check(store.value()->TransitionRun(t).status());
        };
        step(State::kInitializing, false);
        step(State::kRunning, false);
        for (int k = 0; k < tasks; ++k) {
          store::TaskRecord task;
          task.run_id = nr.id;
          task.id = "task-" + std::to_string(k + 1);
          task.name = "mock-" + std::to_string(k + 1);
          task.cmd = {"/bin/sh", "-c", "echo 'mock task: working for 1s'; sleep 1; echo done"};
          task.executor = "local";
          task.created_at = clock.Now();
          check(store.value()->CreateTask(task).status());
          store::TaskTransition tt;
          tt.run_id = nr.id;
          tt.task_id = task.id;
          tt.to = State::kComplete;
          tt.at = clock.Now();
          tt.executor_job_id = "local:1234";
          tt.exit_code = 0;
          tt.start_time = tt.at - kMicrosPerSecond;
          tt.end_time = tt.at;
          tt.reason = "exit code 0";
          check(store.value()->TransitionTask(tt).status());
        }
        step(State::kComplete, true);
      }
    });
  }
  for (auto& t : pool) t.join();
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "fill_store: %d runs with %d tasks each in %.1f s (%d failures)\n", runs,
               tasks, secs, failures.load());
  return failures > 0 ? 1 : 0;
}
