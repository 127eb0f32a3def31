// Runs go end to end on the real binary: MOCK tasks are real processes on the local
// executor; logs are served; failures, cancellation and the task limit behave.
#include <dirent.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "harness.h"

namespace sluice::testing {
namespace {

// Tasks whose wrapper is alive and whose command line mentions `needle` (the wrapper's argv
// holds the task dir). Counted by task dir: between fork and exec, a wrapper's child still
// shows the wrapper's command line, and must not count as a second task.
int CountProcesses(const std::string& needle) {
  std::set<std::string> task_dirs;
  DIR* proc = opendir("/proc");
  if (!proc) return -1;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/cmdline", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string cmd = ss.str();
    for (auto& c : cmd) {
      if (c == '\0') c = ' ';
    }
    size_t at = cmd.find(needle);
    if (at != std::string::npos && cmd.find("__task-wrapper") != std::string::npos) {
      size_t dir_start = cmd.rfind(' ', at) + 1;
      task_dirs.insert(cmd.substr(dir_start, cmd.find(' ', at) - dir_start));
    }
  }
  closedir(proc);
  return static_cast<int>(task_dirs.size());
}

TEST(Lifecycle, MockRunCompletesWithRealTasksAndLogs) {
  TempDir dir;
  ServerProcess server(dir.path());
  std::string id = SubmitMock(server, {{"tasks", 4}, {"parallelism", 2}, {"task_seconds", 0.2}});
  ASSERT_EQ(WaitForTerminal(server, id), "COMPLETE");
  json run = HttpGet(server.wes() + "/runs/" + id).Json();
  EXPECT_EQ(run["state"], "COMPLETE");
  EXPECT_EQ(run["outputs"]["tasks_completed"], 4);
  EXPECT_TRUE(run["run_log"].contains("start_time")) << run.dump();
  EXPECT_TRUE(run["run_log"].contains("end_time")) << run.dump();
  auto tasks = AllTasks(server, id);
  ASSERT_EQ(tasks.size(), 4u);
  for (size_t i = 0; i < tasks.size(); ++i) {
    const json& t = tasks[i];
    EXPECT_EQ(t["id"], "task-" + std::to_string(i + 1));
    EXPECT_EQ(t["exit_code"], 0) << t.dump();
    EXPECT_TRUE(t.contains("start_time") && t.contains("end_time")) << t.dump();
    ASSERT_TRUE(t["stdout"].is_string()) << t.dump();
    HttpResponse out = HttpGet(t["stdout"].get<std::string>());
    EXPECT_EQ(out.status, 200);
    EXPECT_NE(out.body.find("mock task " + std::to_string(i + 1) + "/4: done"), std::string::npos)
        << out.body;
    json one = HttpGet(server.wes() + "/runs/" + id + "/tasks/" + t["id"].get<std::string>()).Json();
    EXPECT_EQ(one["id"], t["id"]);
    EXPECT_EQ(one["cmd"][0], "/bin/sh");
  }
}

TEST(Lifecycle, AFailedTaskMakesTheRunExecutorError) {
  TempDir dir;
  ServerProcess server(dir.path());
  std::string id = SubmitMock(server, {{"tasks", 5}, {"parallelism", 2}, {"task_seconds", 0.1},
                                       {"failure_rate", 1}});
  ASSERT_EQ(WaitForTerminal(server, id), "EXECUTOR_ERROR");
  auto tasks = AllTasks(server, id);
  EXPECT_EQ(tasks.size(), 2u) << "no task may start after the first failure";
  EXPECT_EQ(tasks[0]["exit_code"], 1);
  HttpResponse err = HttpGet(tasks[0]["stderr"].get<std::string>());
  EXPECT_NE(err.body.find("failing as planned"), std::string::npos) << err.body;
  json run = HttpGet(server.wes() + "/runs/" + id).Json();
  ASSERT_FALSE(run["run_log"]["system_logs"].empty()) << run.dump();
}

TEST(Lifecycle, SameSeedSameOutcome) {
  TempDir dir;
  ServerProcess server(dir.path());
  json params = {{"tasks", 6}, {"parallelism", 6}, {"task_seconds", 0}, {"failure_rate", 0.5},
                 {"seed", 1234}};
  std::string a = SubmitMock(server, params);
  std::string b = SubmitMock(server, params);
  std::string sa = WaitForTerminal(server, a), sb = WaitForTerminal(server, b);
  EXPECT_EQ(sa, sb);
  auto ta = AllTasks(server, a), tb = AllTasks(server, b);
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) EXPECT_EQ(ta[i]["exit_code"], tb[i]["exit_code"]);
}

TEST(Lifecycle, CancelStopsEveryTaskAndEndsCanceled) {
  TempDir dir;
  ServerProcess server(dir.path());
  std::string id = SubmitMock(server, {{"tasks", 3}, {"parallelism", 2}, {"task_seconds", 60}});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (CountProcesses(id) < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(CountProcesses(id), 2);
  HttpResponse r = HttpPost(server.wes() + "/runs/" + id + "/cancel", "", "application/json");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["run_id"], id);
  EXPECT_EQ(WaitForTerminal(server, id, 30), "CANCELED");
  EXPECT_EQ(CountProcesses(id), 0) << "a task of the canceled run is still running";
  for (const auto& t : AllTasks(server, id)) {
    EXPECT_TRUE(t.contains("end_time")) << t.dump();
  }
  // Canceling an ended run is a conflict, not a silent success.
  EXPECT_EQ(HttpPost(server.wes() + "/runs/" + id + "/cancel", "", "application/json").status, 409);
}

TEST(Lifecycle, ServerWideTaskLimitHolds) {
  TempDir dir;
  ServerProcess server(dir.path(), {"--max-concurrent-tasks", "2"});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(SubmitMock(server, {{"tasks", 2}, {"parallelism", 2}, {"task_seconds", 0.4}}));
  }
  int most = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool all_done = false;
  while (!all_done && std::chrono::steady_clock::now() < deadline) {
    most = std::max(most, CountProcesses(dir.path()));
    all_done = true;
    for (const auto& id : ids) {
      std::string s = HttpGet(server.wes() + "/runs/" + id + "/status").Json().value("state", "");
      all_done = all_done && s == "COMPLETE";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(all_done);
  EXPECT_GE(most, 1);
  EXPECT_LE(most, 2);
}

}  // namespace
}  // namespace sluice::testing
