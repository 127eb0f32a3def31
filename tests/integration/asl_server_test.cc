// ASL runs through the server: submitted over WES with the definition attached, each Task
// state a task record, the execution history served at /api/v1/runs/{id}/history, and
// kill -9 in the middle of an execution neither loses it nor runs a finished task again.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "harness.h"

namespace sluice::testing {
namespace {

int CountLines(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) ++n;
  return n;
}

// Submits an ASL run with `definition` attached; returns the run id.
std::string SubmitAsl(const ServerProcess& server, const std::string& definition,
                      const json& input) {
  HttpResponse r = HttpPostForm(server.wes() + "/runs",
                                {{"workflow_type", "ASL", ""},
                                 {"workflow_type_version", "1.0", ""},
                                 {"workflow_url", "machine.asl.json", ""},
                                 {"workflow_params", input.dump(), ""},
                                 {"workflow_attachment", definition, "machine.asl.json"}});
  EXPECT_EQ(r.status, 200) << r.body;
  return r.Json().value("run_id", "");
}

std::vector<json> AllHistory(const ServerProcess& server, const std::string& run_id) {
  std::vector<json> all;
  std::string token;
  for (int i = 0; i < 1000; ++i) {
    HttpResponse r = HttpGet(server.url() + "/api/v1/runs/" + run_id + "/history?page_size=7" +
                             (token.empty() ? "" : "&page_token=" + token));
    EXPECT_EQ(r.status, 200) << r.body;
    json page = r.Json();
    for (auto& e : page["events"]) all.push_back(e);
    token = page.value("next_page_token", "");
    if (token.empty()) break;
  }
  return all;
}

constexpr char kMapMachine[] = R"({
  "StartAt": "Regions",
  "States": {
    "Regions": {
      "Type": "Map", "ItemsPath": "$.regions", "MaxConcurrency": 2,
      "ItemSelector": {"region.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
      "ItemProcessor": {"StartAt": "Align", "States": {
        "Align": {"Type": "Task", "Resource": "local:echo", "End": true}}},
      "ResultPath": "$.aligned",
      "Next": "Done"
    },
    "Done": {"Type": "Succeed"}
  }
})";

TEST(AslServer, MapOfBoundTasksCompletesWithTaskRecordsAndHistory) {
  TempDir dir;
  std::string bindings = WriteFile(dir.path() + "/bindings.json", R"({"local:echo": "cat"})");
  ServerProcess server(dir.path() + "/data", {"--asl-bindings-file", bindings});
  std::string run = SubmitAsl(server, kMapMachine, {{"regions", {"chr1", "chr2", "chr3"}}});
  ASSERT_FALSE(run.empty());
  ASSERT_EQ(WaitForTerminal(server, run), "COMPLETE");

  json log = HttpGet(server.wes() + "/runs/" + run).Json();
  json want_aligned = json::array({{{"region", "chr1"}, {"index", 0}},
                                   {{"region", "chr2"}, {"index", 1}},
                                   {{"region", "chr3"}, {"index", 2}}});
  EXPECT_EQ(log["outputs"]["aligned"], want_aligned) << log.dump();

  std::vector<json> tasks = AllTasks(server, run);
  ASSERT_EQ(tasks.size(), 3u);
  std::set<std::string> names;
  for (const auto& t : tasks) {
    names.insert(t.value("name", ""));
    EXPECT_EQ(t.value("exit_code", -1), 0);
  }
  EXPECT_EQ(names, (std::set<std::string>{"Regions[0]/Align", "Regions[1]/Align",
                                          "Regions[2]/Align"}));

  std::vector<json> history = AllHistory(server, run);
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history.front().value("type", ""), "ExecutionStarted");
  EXPECT_EQ(history.back().value("type", ""), "ExecutionSucceeded");
  int scheduled = 0;
  for (size_t i = 0; i < history.size(); ++i) {
    scheduled += history[i].value("type", "") == "TaskScheduled";
    if (i > 0) {
      EXPECT_GT(history[i]["id"].get<int64_t>(), history[i - 1]["id"].get<int64_t>());
    }
  }
  EXPECT_EQ(scheduled, 3);

  EXPECT_EQ(HttpGet(server.url() + "/api/v1/runs/nope/history").status, 404);
}

TEST(AslServer, InvalidDefinitionIsRefusedWithItsLocation) {
  TempDir dir;
  ServerProcess server(dir.path());
  HttpResponse r = HttpPostForm(
      server.wes() + "/runs",
      {{"workflow_type", "ASL", ""},
       {"workflow_type_version", "1.0", ""},
       {"workflow_url", "m.json", ""},
       {"workflow_attachment",
        R"({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Algn"}}})", "m.json"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("States.A.Next"), std::string::npos) << r.body;
  EXPECT_EQ(HttpGet(server.wes() + "/runs").Json()["runs"].size(), 0u);
}

TEST(AslServer, ExecutionGoesOnAfterKill9WithoutRunningAFinishedTaskAgain) {
  TempDir dir;
  std::string first = dir.path() + "/first.count";
  std::string second = dir.path() + "/second.count";
  json bindings = {{"local:first", "echo x >> " + first + "; sleep 1; echo '{\"step\": 1}'"},
                   {"local:second", "echo x >> " + second + "; cat"}};
  std::string bindings_file = WriteFile(dir.path() + "/bindings.json", bindings.dump());
  ServerProcess server(dir.path() + "/data", {"--asl-bindings-file", bindings_file});
  std::string run = SubmitAsl(server, R"({
    "StartAt": "First",
    "States": {
      "First": {"Type": "Task", "Resource": "local:first", "ResultPath": "$.first",
                "Next": "Pause"},
      "Pause": {"Type": "Wait", "Seconds": 2, "Next": "Second"},
      "Second": {"Type": "Task", "Resource": "local:second", "End": true}
    }
  })", {{"in", 1}});
  ASSERT_FALSE(run.empty());

  // Crash while First runs...
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (CountLines(first) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(CountLines(first), 1);
  server.Kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // First ends while down
  server.Restart();

  // ...and again during the Wait.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool waiting = false;
  while (!waiting && std::chrono::steady_clock::now() < deadline) {
    for (const auto& e : AllHistory(server, run)) waiting |= e.value("type", "") == "WaitStateEntered";
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(waiting);
  server.Kill9();
  server.Restart();

  ASSERT_EQ(WaitForTerminal(server, run), "COMPLETE");
  EXPECT_EQ(CountLines(first), 1) << "First ran again";
  EXPECT_EQ(CountLines(second), 1);
  json log = HttpGet(server.wes() + "/runs/" + run).Json();
  EXPECT_EQ(log["outputs"], json({{"in", 1}, {"first", {{"step", 1}}}})) << log.dump();
  EXPECT_EQ(AllTasks(server, run).size(), 2u);
}

TEST(AslServer, CancelEndsTheExecutionWithExecutionAborted) {
  TempDir dir;
  std::string started = dir.path() + "/long.started";
  json bindings = {{"local:long", "touch " + started + "; sleep 60"}};
  std::string bindings_file = WriteFile(dir.path() + "/bindings.json", bindings.dump());
  ServerProcess server(dir.path() + "/data", {"--asl-bindings-file", bindings_file});
  std::string run = SubmitAsl(server, R"({
    "StartAt": "Long",
    "States": {"Long": {"Type": "Task", "Resource": "local:long", "End": true}}
  })",
                              json::object());
  ASSERT_FALSE(run.empty());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!std::filesystem::exists(started) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(std::filesystem::exists(started));
  ASSERT_EQ(HttpPost(server.wes() + "/runs/" + run + "/cancel", "", "application/json").status,
            200);
  ASSERT_EQ(WaitForTerminal(server, run), "CANCELED");
  std::vector<json> history = AllHistory(server, run);
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history.back().value("type", ""), "ExecutionAborted") << history.back().dump();
  int aborted = 0;
  for (const auto& e : history) aborted += e.value("type", "") == "ExecutionAborted" ? 1 : 0;
  EXPECT_EQ(aborted, 1);
}

// A bound command sends heartbeats by touching $SLUICE_HEARTBEAT_FILE: one that keeps doing so
// outlives its HeartbeatSeconds, one that stays quiet times out with States.HeartbeatTimeout.
TEST(AslServer, HeartbeatFileKeepsATaskAliveAndSilenceTimesItOut) {
  TempDir dir;
  json bindings = {
      {"local:beat",
       "for i in 1 2 3 4 5 6 7 8 9 10; do touch \"$SLUICE_HEARTBEAT_FILE\"; sleep 0.3; done; "
       "echo '{\"beats\": 10}'"},
      {"local:quiet", "sleep 30"}};
  std::string bindings_file = WriteFile(dir.path() + "/bindings.json", bindings.dump());
  ServerProcess server(dir.path() + "/data", {"--asl-bindings-file", bindings_file});
  auto machine = [](const std::string& resource) {
    return json({{"StartAt", "Work"},
                 {"States",
                  {{"Work",
                    {{"Type", "Task"},
                     {"Resource", resource},
                     {"HeartbeatSeconds", 2},
                     {"End", true}}}}}})
        .dump();
  };
  std::string beating = SubmitAsl(server, machine("local:beat"), json::object());
  std::string quiet = SubmitAsl(server, machine("local:quiet"), json::object());
  ASSERT_FALSE(beating.empty());
  ASSERT_FALSE(quiet.empty());

  ASSERT_EQ(WaitForTerminal(server, beating), "COMPLETE");
  EXPECT_EQ(HttpGet(server.wes() + "/runs/" + beating).Json()["outputs"], json({{"beats", 10}}));
  ASSERT_EQ(WaitForTerminal(server, quiet), "EXECUTOR_ERROR");
  bool timed_out = false;
  for (const auto& e : AllHistory(server, quiet)) {
    timed_out |= e.value("type", "") == "TaskTimedOut" &&
                 e["details"].value("error", "") == "States.HeartbeatTimeout";
  }
  EXPECT_TRUE(timed_out);
}

// A Batch job submitted without .sync answers its state at once; the execution goes on and
// ends, and the run ends once the job has (it is not stopped with the execution).
TEST(AslServer, SubmitJobWithoutSyncRunsTheJobAndTheRunWaitsForIt) {
  TempDir dir;
  std::string marker = dir.path() + "/job.done";
  ServerProcess server(dir.path() + "/data");
  json machine = {
      {"StartAt", "Job"},
      {"States",
       {{"Job",
         {{"Type", "Task"},
          {"Resource", "arn:aws:states:::batch:submitJob"},
          {"Parameters",
           {{"JobName", "index"},
            {"JobQueue", "q"},
            {"JobDefinition", "d"},
            {"ContainerOverrides", {{"Command", {"/bin/sh", "-c", "sleep 2; touch " + marker}}}}}},
          {"ResultPath", "$.job"},
          {"Next", "Done"}}},
        {"Done", {{"Type", "Succeed"}}}}}};
  std::string run = SubmitAsl(server, machine.dump(), json::object());
  ASSERT_FALSE(run.empty());

  // The execution succeeds while the job still runs, and the run waits for it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool succeeded = false;
  while (!succeeded && std::chrono::steady_clock::now() < deadline) {
    for (const auto& e : AllHistory(server, run)) {
      succeeded |= e.value("type", "") == "ExecutionSucceeded";
    }
    if (!succeeded) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(succeeded);
  if (!std::filesystem::exists(marker)) {
    EXPECT_EQ(HttpGet(server.wes() + "/runs/" + run + "/status").Json().value("state", ""),
              "RUNNING");
  }

  ASSERT_EQ(WaitForTerminal(server, run), "COMPLETE");
  EXPECT_TRUE(std::filesystem::exists(marker)) << "the run ended before its job";
  json log = HttpGet(server.wes() + "/runs/" + run).Json();
  EXPECT_EQ(log["outputs"]["job"]["JobName"], "index") << log.dump();
  EXPECT_TRUE(log["outputs"]["job"].contains("JobId")) << log.dump();
  std::vector<json> tasks = AllTasks(server, run);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].value("state", ""), "COMPLETE");
}

// True while `pid` runs. A zombie does not: a killed process stays one until its parent (or,
// once that has gone too, init) reaps it.
bool Running(pid_t pid) {
  std::string stat;
  std::getline(std::ifstream("/proc/" + std::to_string(pid) + "/stat"), stat);
  size_t end_of_name = stat.rfind(')');  // "pid (comm) state ..."
  return end_of_name != std::string::npos && end_of_name + 2 < stat.size() &&
         stat[end_of_name + 2] != 'Z';
}

// Two branches: Fail ends with exit 3 once Stubborn has started.
constexpr char kFailWithSiblingMachine[] = R"({
  "StartAt": "Both",
  "States": {
    "Both": {"Type": "Parallel", "End": true, "Branches": [
      {"StartAt": "Fail", "States": {
        "Fail": {"Type": "Task", "Resource": "local:fail", "End": true}}},
      {"StartAt": "Stubborn", "States": {
        "Stubborn": {"Type": "Task", "Resource": "local:stubborn", "End": true}}}
    ]}
  }
})";

// A failed execution ends the run only once its other tasks are stopped, so no task outlives
// its run, even across a crash in between: here the sibling ignores SIGTERM, so it is still
// alive for the cancel grace period after the failure, and the server is killed meanwhile.
TEST(AslServer, FailedRunEndsOnlyAfterItsOtherTasksStoppedEvenAcrossKill9) {
  TempDir dir;
  std::string started = dir.path() + "/stubborn.started";
  std::string pid_file = dir.path() + "/stubborn.pid";
  json bindings = {{"local:fail", "until [ -e " + started + " ]; do sleep 0.05; done; exit 3"},
                   {"local:stubborn",
                    "trap '' TERM; echo $$ > " + pid_file + "; touch " + started + "; sleep 60"}};
  std::string bindings_file = WriteFile(dir.path() + "/bindings.json", bindings.dump());
  ServerProcess server(dir.path() + "/data",
                       {"--asl-bindings-file", bindings_file, "--cancel-grace-seconds", "5"});
  std::string run = SubmitAsl(server, kFailWithSiblingMachine, json::object());
  ASSERT_FALSE(run.empty());

  // The failure is recorded while the sibling still runs (it ignores the SIGTERM)...
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool failed = false;
  while (!failed && std::chrono::steady_clock::now() < deadline) {
    for (const auto& t : AllTasks(server, run)) failed |= t.value("state", "") == "EXECUTOR_ERROR";
    if (!failed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(failed);
  pid_t stubborn = 0;
  std::ifstream(pid_file) >> stubborn;
  ASSERT_GT(stubborn, 0);
  ASSERT_TRUE(Running(stubborn)) << "the sibling should outlive SIGTERM for the grace period";
  // ...so the run has not ended yet.
  EXPECT_EQ(HttpGet(server.wes() + "/runs/" + run + "/status").Json().value("state", ""),
            "RUNNING");

  server.Kill9();
  server.Restart();

  ASSERT_EQ(WaitForTerminal(server, run), "EXECUTOR_ERROR");
  for (const auto& t : AllTasks(server, run)) {
    EXPECT_TRUE(t.value("state", "") == "EXECUTOR_ERROR" || t.value("state", "") == "CANCELED")
        << "a task outlived its run: " << t.dump();
  }
  EXPECT_FALSE(Running(stubborn)) << "the sibling is still running";
}

}  // namespace
}  // namespace sluice::testing
