// kill -9 at any moment loses nothing: accepted runs survive, running runs go on, tasks that
// ended while the server was down are recorded with their real exit code, and no finished
// task runs again.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "harness.h"

namespace sluice::testing {
namespace {

TEST(Crash, RunsGoOnAfterKill9AndNoFinishedTaskRunsAgain) {
  TempDir dir;
  ServerProcess server(dir.path());
  std::string steady =
      SubmitMock(server, {{"tasks", 6}, {"parallelism", 2}, {"task_seconds", 1.0}});
  std::string failing =
      SubmitMock(server, {{"tasks", 1}, {"task_seconds", 1.5}, {"failure_rate", 1}});
  // Wait until the first tasks of `steady` finished and others run.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool some_done = false;
  while (!some_done && std::chrono::steady_clock::now() < deadline) {
    for (const auto& t : AllTasks(server, steady)) some_done = some_done || t.contains("exit_code");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(some_done);
  server.Kill9();
  // While the server is down, the running tasks finish (the failing one with exit code 1).
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  server.Restart();
  EXPECT_EQ(WaitForTerminal(server, steady), "COMPLETE");
  EXPECT_EQ(WaitForTerminal(server, failing), "EXECUTOR_ERROR");
  auto tasks = AllTasks(server, steady);
  ASSERT_EQ(tasks.size(), 6u);
  for (const auto& t : tasks) {
    EXPECT_EQ(t["exit_code"], 0) << t.dump();
    std::string out = dir.path() + "/runs/" + steady + "/tasks/" + t["id"].get<std::string>() +
                      "/stdout";
    EXPECT_EQ(CountLines(out, "working for"), 1) << t["id"] << " ran more than once";
  }
  auto failed = AllTasks(server, failing);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["exit_code"], 1) << "the real exit code of a task that ended while down";
}

TEST(Crash, EveryAcknowledgedSubmissionSurvivesKill9) {
  TempDir dir;
  ServerProcess server(dir.path());
  std::mutex mu;
  std::vector<std::string> acknowledged;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  json body = {{"workflow_type", "MOCK"},
               {"workflow_type_version", "1.0"},
               {"workflow_url", "mock://x"},
               {"workflow_params", {{"tasks", 1}, {"task_seconds", 0}}}};
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      while (!stop) {
        HttpResponse r = HttpPost(server.wes() + "/runs", body.dump(), "application/json");
        if (r.status != 200) break;  // the server died under us
        std::lock_guard<std::mutex> lock(mu);
        acknowledged.push_back(r.Json()["run_id"]);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  server.Kill9();
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_GT(acknowledged.size(), 10u);
  server.Restart();
  for (const auto& id : acknowledged) {
    EXPECT_EQ(HttpGet(server.wes() + "/runs/" + id + "/status").status, 200) << id << " lost";
  }
  // ...and they all go on to finish.
  for (size_t i = 0; i < acknowledged.size(); i += std::max<size_t>(1, acknowledged.size() / 10)) {
    EXPECT_EQ(WaitForTerminal(server, acknowledged[i], 120), "COMPLETE");
  }
}

}  // namespace
}  // namespace sluice::testing
