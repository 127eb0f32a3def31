// index_load: fills a Sluice SQLite store with many finished runs for the run-index figures
// (bench/index/run.sh), through the store's BulkImporter: each run with its tags, its tasks
// (the rows a MOCK run leaves: same names, commands, job ids, exit codes and times) and the
// full history the server would have written, counts and stats roll-ups included.
//
// The data looks like a busy shared service over 90 days: 1,000 users, each working in two
// of 200 projects; 5 pipelines; runs mostly COMPLETE (90%), then EXECUTOR_ERROR (6%),
// CANCELED (3%) and SYSTEM_ERROR (1%). Every run has ended, so a server started on the store
// has nothing to drive and serves queries only.
//
// It also writes the request paths the benchmark replays: status_paths.txt (status of
// random runs), filter_paths.txt (a page of 50 runs of one user in one of their projects,
// COMPLETE, newest first) and filter_total_paths.txt (the same with total=true).
// Prints one JSON object: {"runs", "seconds", "runs_per_second", "db_bytes"}.
//
//   index_load --db DIR/sluice.db --runs 1000000 --tasks 10 --paths-dir DIR
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "store/sqlite/bulk_import.h"

using namespace sluice;

namespace {

constexpr int kUsers = 1000;
constexpr int kProjects = 200;
constexpr Micros kSpan = 90LL * 24 * 3600 * kMicrosPerSecond;

std::string User(int u) { return "u" + std::to_string(u); }
std::string Project(int u, int which) { return "p" + std::to_string((u * 7 + which) % kProjects); }

State RunState(uint64_t r) {
  int pct = static_cast<int>(r % 100);
  if (pct < 90) return State::kComplete;
  if (pct < 96) return State::kExecutorError;
  if (pct < 99) return State::kCanceled;
  return State::kSystemError;
}

store::sqlite::ImportRun MakeRun(int i, int n_runs, int n_tasks, Micros now, std::mt19937_64& rng) {
  store::sqlite::ImportRun r;
  int u = i % kUsers;
  char id[32];
  std::snprintf(id, sizeof id, "bench%011d", i);
  r.run.id = id;
  r.run.user = User(u);
  r.run.submitted_at = now - kSpan + kSpan / n_runs * i;
  r.run.request.workflow_type = "MOCK";
  r.run.request.workflow_type_version = "1.0";
  r.run.request.workflow_url = "mock://bench";
  r.run.request.workflow_params = "{\"tasks\":" + std::to_string(n_tasks) + ",\"task_seconds\":2}";
  r.run.request.tags = {{"user", r.run.user},
                        {"project", Project(u, (i / kUsers) % 2)},
                        {"pipeline", "pipe" + std::to_string(i % 5)},
                        {"name", "sample-" + std::to_string(i)}};
  r.state = RunState(rng());
  Micros t = r.run.submitted_at + 20000;
  r.start_time = t;
  store::RunUsage usage;
  int failing = r.state == State::kExecutorError ? static_cast<int>(rng() % n_tasks) : -1;
  for (int k = 0; k < n_tasks; ++k) {
    store::sqlite::ImportTask task;
    task.id = "task-" + std::to_string(k + 1);
    task.name = "mock-" + std::to_string(k + 1);
    std::string label = "mock task " + std::to_string(k + 1) + "/" + std::to_string(n_tasks);
    task.cmd = {"/bin/sh", "-c",
                "echo '" + label + ": working for 2.000000s'; sleep 2.000000; echo '" + label +
                    ": done'"};
    task.created_at = t;
    task.executor_job_id = std::to_string(10000 + rng() % 90000);
    task.start_time = t + 3000;
    Micros seconds = 2 * kMicrosPerSecond + static_cast<Micros>(rng() % 500000);
    task.end_time = *task.start_time + seconds;
    bool canceled = r.state == State::kCanceled && k == n_tasks - 1;
    bool lost = r.state == State::kSystemError && k == n_tasks - 1;
    if (k == failing) {
      task.state = State::kExecutorError;
      task.exit_code = 1;
    } else if (canceled) {
      task.state = State::kCanceled;
      task.exit_code = 143;
    } else if (lost) {
      task.state = State::kSystemError;
    } else {
      task.state = State::kComplete;
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bulk-load a Sluice SQLite store for the run-index benchmark"};
  std::string db, paths_dir;
  int runs = 1000000, tasks = 10;
  app.add_option("--db", db)->required();
  app.add_option("--runs", runs)->check(CLI::Range(1, 100000000));
  app.add_option("--tasks", tasks)->check(CLI::Range(1, 1000));
  app.add_option("--paths-dir", paths_dir, "where to write the request path files");
  CLI11_PARSE(app, argc, argv);
  std::filesystem::create_directories(std::filesystem::path(db).parent_path());

  auto importer = store::sqlite::BulkImporter::Open(db);
  if (!importer.ok()) {
    std::fprintf(stderr, "index_load: %s\n", importer.status().ToString().c_str());
    return 1;
  }
  SystemClock clock;
  Micros now = clock.Now();
  std::mt19937_64 rng(42);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) {
    Status st = (*importer)->Add(MakeRun(i, runs, tasks, now, rng));
    if (!st.ok()) {
      std::fprintf(stderr, "index_load: run %d: %s\n", i, st.ToString().c_str());
      return 1;
    }
  }
  if (Status st = (*importer)->Finish(); !st.ok()) {
    std::fprintf(stderr, "index_load: %s\n", st.ToString().c_str());
    return 1;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t bytes = std::filesystem::file_size(db);
  std::error_code ec;
  uint64_t wal = std::filesystem::file_size(db + "-wal", ec);
  if (!ec) bytes += wal;

  if (!paths_dir.empty()) {
    std::ofstream status(paths_dir + "/status_paths.txt");
    std::ofstream filter(paths_dir + "/filter_paths.txt");
    std::ofstream total(paths_dir + "/filter_total_paths.txt");
    std::uniform_int_distribution<int> any_run(0, runs - 1), any_user(0, kUsers - 1);
    for (int k = 0; k < 100000; ++k) {
      char id[32];
      std::snprintf(id, sizeof id, "bench%011d", any_run(rng));
      status << "/ga4gh/wes/v1/runs/" << id << "/status\n";
    }
    for (int k = 0; k < 1000; ++k) {
      int u = any_user(rng);
      std::string path = "/api/v1/runs?user=" + User(u) + "&state=COMPLETE&tag=project:" +
                         Project(u, k % 2) + "&page_size=50";
      filter << path << "\n";
      total << path << "&total=true\n";
    }
  }
  nlohmann::json out = {{"runs", runs},
                        {"seconds", seconds},
                        {"runs_per_second", runs / seconds},
                        {"db_bytes", bytes}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
