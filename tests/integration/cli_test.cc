// The `sluice` CLI against a real server: submit, watch, status, list, logs, cancel, and the
// exit codes scripts rely on.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "harness.h"

namespace sluice::testing {
namespace {

struct CmdResult {
  int exit_code = -1;
  std::string out;
};

// Runs `cmd` through the shell; stdout captured.
CmdResult RunShell(const std::string& cmd) {
  CmdResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs `sluice ARGS --server URL`; stderr discarded unless `keep_stderr`.
CmdResult Sluice(const ServerProcess& server, const std::string& args, bool keep_stderr = false) {
  return RunShell(SluiceBinary() + " " + args + " --server " + server.url() +
                  (keep_stderr ? " 2>&1" : " 2>/dev/null"));
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// `sluice submit` of a MOCK run with these workflow_params (JSON) and extra arguments.
CmdResult CliSubmitMock(const ServerProcess& server, const std::string& params,
                        const std::string& extra = "", bool keep_stderr = false) {
  return Sluice(server,
                "submit --type MOCK --type-version 1.0 --url mock://cli --params '" + params + "'" +
                    (extra.empty() ? "" : " " + extra),
                keep_stderr);
}

TEST(Cli, SubmitWatchStatusListLogs) {
  TempDir dir;
  ServerProcess server(dir.path());
  CmdResult sub =
      CliSubmitMock(server, R"({"tasks": 2, "task_seconds": 0.1})", "--tag project=demo");
  ASSERT_EQ(sub.exit_code, 0) << sub.out;
  std::string id = Trim(sub.out);
  ASSERT_EQ(id.find('\n'), std::string::npos) << "submit must print only the id: " << sub.out;
  ASSERT_EQ(HttpGet(server.wes() + "/runs/" + id + "/status").status, 200);

  CmdResult watch = Sluice(server, "watch " + id, true);
  EXPECT_EQ(watch.exit_code, 0) << watch.out;
  EXPECT_NE(watch.out.find("COMPLETE"), std::string::npos) << watch.out;

  CmdResult status = Sluice(server, "status " + id);
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("COMPLETE"), std::string::npos) << status.out;

  // The client options may come before the subcommand too.
  CmdResult before =
      RunShell(SluiceBinary() + " --server " + server.url() + " --json status " + id);
  EXPECT_EQ(before.exit_code, 0) << before.out;
  EXPECT_NE(before.out.find("\"state\": \"COMPLETE\""), std::string::npos) << before.out;

  CmdResult list = Sluice(server, "list --json");
  ASSERT_EQ(list.exit_code, 0);
  json j = json::parse(list.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << list.out;
  ASSERT_EQ(j["runs"].size(), 1u);
  EXPECT_EQ(j["runs"][0]["run_id"], id);
  EXPECT_EQ(j["runs"][0]["tags"]["project"], "demo");

  CmdResult logs = Sluice(server, "logs " + id + " task-2");
  EXPECT_EQ(logs.exit_code, 0);
  EXPECT_NE(logs.out.find("mock task 2/2: done"), std::string::npos) << logs.out;
  // By name too, as `watch` shows tasks.
  CmdResult by_name = Sluice(server, "logs " + id + " mock-2");
  EXPECT_EQ(by_name.exit_code, 0);
  EXPECT_EQ(by_name.out, logs.out);
  EXPECT_EQ(Sluice(server, "logs " + id + " no-such-task").exit_code, 3);

  CmdResult audit = Sluice(server, "audit " + id);
  EXPECT_EQ(audit.exit_code, 0);
  EXPECT_NE(audit.out.find("RUNNING -> COMPLETE"), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("task-2"), std::string::npos) << audit.out;
  EXPECT_NE(audit.out.find("exit code 0"), std::string::npos) << audit.out;
  CmdResult audit_json = Sluice(server, "audit --json " + id);
  ASSERT_EQ(audit_json.exit_code, 0);
  json changes = json::parse(audit_json.out, nullptr, false);
  ASSERT_TRUE(changes.is_object()) << audit_json.out;
  ASSERT_FALSE(changes["changes"].empty());
  EXPECT_EQ(changes["changes"][0]["to"], "QUEUED");
  EXPECT_EQ(changes["changes"].back()["to"], "COMPLETE");
  const int unknown = Sluice(server, "audit nosuchrun").exit_code;
  EXPECT_NE(unknown, 0);
  EXPECT_EQ(unknown, Sluice(server, "status nosuchrun").exit_code)
      << "the same exit code as any unknown run";
}

// Tasks created while `watch` follows the run are shown by name too, like the ones its
// first snapshot lists (their events carry only the task id).
TEST(Cli, WatchNamesTasksCreatedAfterItStarted) {
  TempDir dir;
  ServerProcess server(dir.path());
  CmdResult sub = CliSubmitMock(server, R"({"tasks": 3, "parallelism": 1, "task_seconds": 0.2})");
  ASSERT_EQ(sub.exit_code, 0) << sub.out;
  CmdResult watch = Sluice(server, "watch " + Trim(sub.out), true);
  EXPECT_EQ(watch.exit_code, 0) << watch.out;
  // task-3 starts once task-2 has ended, ~0.4 s after the watch began.
  EXPECT_NE(watch.out.find(" mock-3 COMPLETE\n"), std::string::npos) << watch.out;
  EXPECT_EQ(watch.out.find(" task-"), std::string::npos) << watch.out;
}

// --follow waits for a task that does not exist yet (mock-2 is created once mock-1 has
// ended) and keeps printing until it has ended.
TEST(Cli, LogsFollowPrintsATasksOutputUntilItEnds) {
  TempDir dir;
  ServerProcess server(dir.path());
  CmdResult sub = CliSubmitMock(server, R"({"tasks": 2, "parallelism": 1, "task_seconds": 0.6})");
  ASSERT_EQ(sub.exit_code, 0) << sub.out;
  const std::string id = Trim(sub.out);
  CmdResult follow = Sluice(server, "logs " + id + " mock-2 --follow", true);
  EXPECT_EQ(follow.exit_code, 0) << follow.out;
  EXPECT_EQ(follow.out, "mock task 2/2: working for 0.600000s\nmock task 2/2: done\n");
  EXPECT_EQ(Sluice(server, "logs " + id + " --follow").exit_code, 2) << "--follow needs a task";
  EXPECT_EQ(Sluice(server, "logs " + id + " mock-3 --follow").exit_code, 3)
      << "the run has ended without such a task";
}

// A state machine that visits its Task state twice: two tasks with the name "Work".
TEST(Cli, LogsOfAnAmbiguousTaskNameAskForTheId) {
  TempDir dir;
  std::string bindings =
      WriteFile(dir.path() + "/bindings.json", R"({"local:work": "cat >/dev/null; echo '{}'"})");
  std::string machine = WriteFile(dir.path() + "/machine.json", R"({
    "StartAt": "Work",
    "States": {
      "Work": {"Type": "Task", "Resource": "local:work", "ResultPath": null, "Next": "Again"},
      "Again": {"Type": "Choice", "Default": "Done",
                "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "Count"}]},
      "Count": {"Type": "Pass", "Result": 0, "ResultPath": "$.n", "Next": "Work"},
      "Done": {"Type": "Succeed"}}})");
  ServerProcess server(dir.path() + "/data", {"--asl-bindings-file", bindings});
  CmdResult sub =
      Sluice(server, "submit " + machine + " --type ASL --type-version 1.0 --params '{\"n\": 1}'" +
                         " --wait");
  ASSERT_EQ(sub.exit_code, 0) << sub.out;
  std::string id = Trim(sub.out);
  ASSERT_EQ(AllTasks(server, id).size(), 2u);

  CmdResult ambiguous = Sluice(server, "logs " + id + " Work", true);
  EXPECT_EQ(ambiguous.exit_code, 2);
  EXPECT_NE(ambiguous.out.find("2 tasks are named \"Work\" (task-1, task-2)"), std::string::npos)
      << ambiguous.out;
  EXPECT_EQ(Sluice(server, "logs " + id + " task-2").exit_code, 0);
}

TEST(Cli, ExitCodesTellScriptsWhatHappened) {
  TempDir dir;
  ServerProcess server(dir.path());
  CmdResult failing =
      CliSubmitMock(server, R"({"tasks": 1, "task_seconds": 0, "failure_rate": 1})", "--wait");
  EXPECT_EQ(failing.exit_code, 1) << "a run that ends EXECUTOR_ERROR";
  std::string id = Trim(failing.out);
  EXPECT_EQ(Sluice(server, "cancel " + id).exit_code, 4) << "cancel of an ended run: conflict";
  EXPECT_EQ(Sluice(server, "status no-such-run").exit_code, 3);
  CmdResult bad = CliSubmitMock(server, R"({"tasks": 0})", "", true);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("workflow_params.tasks"), std::string::npos) << bad.out;
}

TEST(Cli, CancelEndsARunningRun) {
  TempDir dir;
  ServerProcess server(dir.path(), {"--cancel-grace-seconds", "2"});
  CmdResult sub = CliSubmitMock(server, R"({"tasks": 1, "task_seconds": 60})");
  ASSERT_EQ(sub.exit_code, 0);
  std::string id = Trim(sub.out);
  EXPECT_EQ(Sluice(server, "cancel " + id).exit_code, 0);
  EXPECT_EQ(WaitForTerminal(server, id, 30), "CANCELED");
  EXPECT_EQ(Sluice(server, "watch " + id).exit_code, 1);
}

TEST(Cli, UnreachableServerIsAClearError) {
  TempDir dir;
  ServerProcess server(dir.path());
  std::string url = server.url();
  server.Stop();
  std::string cmd = SluiceBinary() + " list --server " + url + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 5);
  EXPECT_NE(out.find("cannot reach"), std::string::npos) << out;
}

}  // namespace
}  // namespace sluice::testing
