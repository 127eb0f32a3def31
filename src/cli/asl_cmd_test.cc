// End-to-end tests of `sluice asl validate` and `sluice asl run`: the built binary is run
// with files in a temporary directory, and its exit status, stdout line and stderr checked.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

extern char** environ;  // NOLINT: POSIX

namespace sluice::cli {
namespace {

using nlohmann::ordered_json;
namespace fs = std::filesystem;

class AslCmdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-asl-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  struct Outcome {
    int exit_code = -1;
    std::string out;
    std::string err;
    ordered_json Line() const {
      EXPECT_FALSE(out.empty()) << "stderr: " << err;
      EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
      return ordered_json::parse(out, nullptr, /*allow_exceptions=*/false);
    }
  };

  // Runs `sluice <args>` through the shell, from the temporary directory.
  Outcome Sluice(const std::string& args) {
    std::string cmd = "cd '" + dir_ + "' && '" SLUICE_BINARY "' " + args + " >'" + dir_ +
                      "/stdout' 2>'" + dir_ + "/stderr' </dev/null";
    int status = std::system(cmd.c_str());
    Outcome o;
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    o.out = Read(dir_ + "/stdout");
    o.err = Read(dir_ + "/stderr");
    return o;
  }

  std::string dir_;
};

constexpr const char* kPassMachine =
    R"({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"x": 1}, "End": true}}})";

// One Task state calling `resource`, with its whole input as Parameters.
std::string TaskMachine(const std::string& resource, const std::string& extra = "") {
  return R"({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": ")" + resource +
         R"(", "End": true)" + extra + "}}}";
}

TEST_F(AslCmdTest, ValidateAcceptsAValidDefinition) {
  Write("ok.json", kPassMachine);
  Outcome o = Sluice("asl validate ok.json");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "");
}

TEST_F(AslCmdTest, ValidateListsEveryProblemWithItsLocation) {
  Write("bad.json", R"({"StartAt": "A", "States": {
      "A": {"Type": "Pass", "Next": "Algn"},
      "B": {"Type": "Wait", "End": true}}})");
  Outcome o = Sluice("asl validate bad.json");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(o.out, "");
  EXPECT_NE(o.err.find("States.A.Next"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("Algn"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("States.B"), std::string::npos) << o.err;
}

TEST_F(AslCmdTest, ValidateAndRunRefuseAMissingOrNonJsonFile) {
  EXPECT_EQ(Sluice("asl validate nope.json").exit_code, 2);
  Write("text.json", "not json");
  EXPECT_EQ(Sluice("asl validate text.json").exit_code, 2);
  Outcome o = Sluice("asl run text.json");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(o.out, "");
}

TEST_F(AslCmdTest, RunPrintsExactlyOneLineWithTheOutput) {
  Write("m.json", kPassMachine);
  Outcome o = Sluice("asl run m.json");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "{\"status\":\"SUCCEEDED\",\"output\":{\"x\":1}}\n");
}

TEST_F(AslCmdTest, RunUsesInputNameAndContext) {
  Write("m.json", R"({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
      "in.$": "$.v", "name.$": "$$.Execution.Name", "machine.$": "$$.StateMachine.Name",
      "id.$": "$$.Execution.Id"}, "End": true}}})");
  Write("in.json", R"({"v": [1, 2]})");
  Outcome o = Sluice("asl run m.json --input in.json --name run-1");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.Line()["output"], ordered_json::parse(R"({"in": [1, 2], "name": "run-1",
      "machine": "m", "id": "arn:aws:states:local:000000000000:execution:m:run-1"})"));

  Write("ctx.json", R"({"Execution": {"Name": "from-context"}, "StateMachine": {"Name": "sm"}})");
  o = Sluice("asl run m.json --input in.json --name run-1 --context ctx.json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.Line()["output"]["name"], "from-context");
  EXPECT_EQ(o.Line()["output"]["machine"], "sm");
}

TEST_F(AslCmdTest, BoundCommandGetsInputOnStdinAndTheSluiceVariables) {
  Write("m.json", TaskMachine("arn:aws:lambda:us-east-1:1:function:echo"));
  Write("in.json", R"({"n": 1})");
  Write("bindings.json", R"({"arn:aws:lambda:us-east-1:1:function:echo":
      "read x; echo \"{\\\"got\\\": $x, \\\"state\\\": \\\"$SLUICE_STATE_NAME\\\", \\\"attempt\\\": $SLUICE_ATTEMPT, \\\"exec\\\": \\\"$SLUICE_EXECUTION_NAME\\\", \\\"res\\\": \\\"$SLUICE_RESOURCE\\\"}\""})");
  Outcome o = Sluice("asl run m.json --input in.json --name e1 --bindings bindings.json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.Line()["output"], ordered_json::parse(R"({"got": {"n": 1}, "state": "T",
      "attempt": 1, "exec": "e1", "res": "arn:aws:lambda:us-east-1:1:function:echo"})"));
}

TEST_F(AslCmdTest, BindFlagOverridesTheBindingsFile) {
  Write("m.json", TaskMachine("arn:r"));
  Write("bindings.json", R"({"arn:r": "echo 1"})");
  Outcome o = Sluice("asl run m.json --bindings bindings.json --bind 'arn:r=echo 2'");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "{\"status\":\"SUCCEEDED\",\"output\":2}\n");
}

TEST_F(AslCmdTest, FailingCommandReportsErrorAndCauseFromItsStdout) {
  Write("m.json", TaskMachine("arn:r"));
  Outcome o = Sluice(
      "asl run m.json --bind 'arn:r=echo \"{\\\"Error\\\": \\\"MyError\\\", \\\"Cause\\\": "
      "\\\"bad input\\\"}\"; exit 3'");
  EXPECT_EQ(o.exit_code, 1) << o.err;
  EXPECT_EQ(o.out, "{\"status\":\"FAILED\",\"error\":\"MyError\",\"cause\":\"bad input\"}\n");
}

TEST_F(AslCmdTest, FailingCommandOtherwiseFailsWithTheTailOfStderr) {
  Write("m.json", TaskMachine("arn:r"));
  Outcome o = Sluice("asl run m.json --bind 'arn:r=echo first >&2; echo oops >&2; exit 4'");
  EXPECT_EQ(o.exit_code, 1);
  ordered_json line = o.Line();
  EXPECT_EQ(line["status"], "FAILED");
  EXPECT_EQ(line["error"], "States.TaskFailed");
  EXPECT_EQ(line["cause"], "first\noops");
}

TEST_F(AslCmdTest, CatchHandlesABoundCommandsError) {
  Write("m.json", R"({"StartAt": "T", "States": {
      "T": {"Type": "Task", "Resource": "arn:r", "Next": "Done",
            "Catch": [{"ErrorEquals": ["MyError"], "ResultPath": "$.err", "Next": "Done"}]},
      "Done": {"Type": "Succeed"}}})");
  Write("in.json", R"({"keep": true})");
  Write("b.json", R"({"arn:r": "echo '{\"Error\": \"MyError\", \"Cause\": \"c\"}'; exit 1"})");
  Outcome o = Sluice("asl run m.json --input in.json --bindings b.json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.Line()["output"],
            ordered_json::parse(R"({"keep": true, "err": {"Error": "MyError", "Cause": "c"}})"));
}

TEST_F(AslCmdTest, HeartbeatFileKeepsACommandAliveAndSilenceTimesItOut) {
  Write("m.json", TaskMachine("arn:r", R"(, "HeartbeatSeconds": 2)"));
  Write("beat.json", R"({"arn:r": "for i in 1 2 3 4 5 6 7 8; do )"
                     R"(touch \"$SLUICE_HEARTBEAT_FILE\"; sleep 0.25; done; echo 8"})");
  Outcome alive = Sluice("asl run m.json --bindings beat.json");
  ASSERT_EQ(alive.exit_code, 0) << alive.err;
  EXPECT_EQ(alive.out, "{\"status\":\"SUCCEEDED\",\"output\":8}\n");
  Outcome quiet = Sluice("asl run m.json --bind 'arn:r=sleep 30'");
  EXPECT_EQ(quiet.exit_code, 1) << quiet.err;
  EXPECT_EQ(quiet.Line()["error"], "States.HeartbeatTimeout");
}

TEST_F(AslCmdTest, UnboundResourceFailsWithResourceNotBound) {
  Write("m.json", TaskMachine("arn:aws:lambda:us-east-1:1:function:f"));
  Outcome o = Sluice("asl run m.json");
  EXPECT_EQ(o.exit_code, 1);
  ordered_json line = o.Line();
  EXPECT_EQ(line["status"], "FAILED");
  EXPECT_EQ(line["error"], "Sluice.ResourceNotBound");
  EXPECT_NE(line["cause"].get<std::string>().find("arn:aws:lambda:us-east-1:1:function:f"),
            std::string::npos);
}

TEST_F(AslCmdTest, ParallelBranchesRunTheirCommandsConcurrently) {
  // Branch A waits for a file that branch B creates: run one after the other, A times out.
  Write("m.json", R"({"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": true,
      "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:a", "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "arn:b", "End": true}}}
      ]}}})");
  Write("b.json", R"({
      "arn:a": "for i in $(seq 200); do [ -f flag ] && { echo '\"a\"'; exit 0; }; sleep 0.05; done; exit 1",
      "arn:b": "touch flag; echo '\"b\"'"})");
  Outcome o = Sluice("asl run m.json --bindings b.json");
  ASSERT_EQ(o.exit_code, 0) << o.err << o.out;
  EXPECT_EQ(o.Line()["output"], ordered_json::parse(R"(["a", "b"])"));
}

constexpr const char* kMockMachine = R"({"StartAt": "Each", "States": {
    "Each": {"Type": "Map", "MaxConcurrency": 1, "ItemsPath": "$.items", "End": true,
      "ItemProcessor": {"StartAt": "Call", "States": {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}}}}}})";

constexpr const char* kMockConfig = R"({
  "StateMachines": {
    "machine": {"TestCases": {"Ranges": {"Call": "Seq"}, "Fails": {"Call": "Boom"}}},
    "other": {"TestCases": {"Ranges": {"Call": "Boom"}}}
  },
  "MockedResponses": {
    "Seq": {"0": {"Return": "first"}, "1-2": {"Return": {"n": "next"}}},
    "Boom": {"0": {"Throw": {"Error": "Lambda.Unknown", "Cause": "mock cause"}}}
  }})";

TEST_F(AslCmdTest, MockConfigAnswersInvocationsByNumberAndRange) {
  Write("machine.json", kMockMachine);
  Write("in.json", R"({"items": [1, 2, 3]})");
  Write("mocks.json", kMockConfig);
  Outcome o = Sluice(
      "asl run machine.json --input in.json --mock-config mocks.json "
      "--test-case Ranges");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.Line()["output"], ordered_json::parse(R"(["first", {"n": "next"}, {"n": "next"}])"));
}

TEST_F(AslCmdTest, MockConfigThrowsAndFailsWhenOutOfResponses) {
  Write("machine.json", kMockMachine);
  Write("mocks.json", kMockConfig);
  Write("one.json", R"({"items": [1]})");
  Outcome o = Sluice(
      "asl run machine.json --input one.json --mock-config mocks.json "
      "--test-case Fails");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.out,
            "{\"status\":\"FAILED\",\"error\":\"Lambda.Unknown\",\"cause\":\"mock cause\"}\n");

  Write("four.json", R"({"items": [1, 2, 3, 4]})");
  o = Sluice("asl run machine.json --input four.json --mock-config mocks.json --test-case Ranges");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.Line()["error"], "States.Runtime");
}

TEST_F(AslCmdTest, MockConfigStateMachineComesFromTheContextName) {
  Write("machine.json", kMockMachine);
  Write("mocks.json", kMockConfig);
  Write("one.json", R"({"items": [1]})");
  Write("ctx.json", R"({"StateMachine": {"Name": "other"}})");
  Outcome o = Sluice(
      "asl run machine.json --input one.json --context ctx.json "
      "--mock-config mocks.json --test-case Ranges");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.Line()["error"], "Lambda.Unknown");
}

TEST_F(AslCmdTest, MockConfigUsageErrorsExitTwo) {
  Write("machine.json", kMockMachine);
  Write("mocks.json", kMockConfig);
  EXPECT_EQ(Sluice("asl run machine.json --mock-config mocks.json").exit_code, 2);
  EXPECT_EQ(Sluice("asl run machine.json --test-case Ranges").exit_code, 2);
  Outcome o = Sluice("asl run machine.json --mock-config mocks.json --test-case Nope");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("Nope"), std::string::npos) << o.err;
  Write("bad-mocks.json", R"({"StateMachines": {}, "MockedResponses": {"R": {"x": {}}}})");
  o = Sluice("asl run machine.json --mock-config bad-mocks.json --test-case T");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("MockedResponses.R.x"), std::string::npos) << o.err;
}

TEST_F(AslCmdTest, UsageErrorsExitTwoWithNothingOnStdout) {
  Write("m.json", kPassMachine);
  Write("bad.json", "{");
  for (const char* args :
       {"asl run", "asl run m.json --input bad.json", "asl run m.json --input missing.json",
        "asl run m.json --context bad.json", "asl run m.json --bind noequals",
        "asl run m.json --bindings bad.json", "asl run m.json --name 'a b'", "asl bogus"}) {
    Outcome o = Sluice(args);
    EXPECT_EQ(o.exit_code, 2) << args << "\n" << o.err;
    EXPECT_EQ(o.out, "") << args;
  }
}

constexpr const char* kBatchMachine = R"({"StartAt": "Job", "States": {"Job": {
    "Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync", "End": true,
    "Parameters": {"JobName": "greet", "JobQueue": "q",
      "JobDefinition": "arn:aws:batch:us-east-1:1:job-definition/greeter:2",
      "ContainerOverrides": {"Vcpus": 1, "Memory": 64,
        "Command.$": "$.command",
        "Environment": [{"Name": "GREETING", "Value": "hello"}]}}}}})";

TEST_F(AslCmdTest, BatchJobRunsItsCommandLocallyAndReturnsTheJobDescription) {
  Write("job.json", kBatchMachine);
  Write(
      "in.json",
      R"({"command": ["sh", "-c", "test \"$GREETING\" = hello && test -n \"$AWS_BATCH_JOB_ID\""]})");
  Outcome o = Sluice("asl run job.json --input in.json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  ordered_json d = o.Line()["output"];
  EXPECT_EQ(d["Status"], "SUCCEEDED");
  EXPECT_EQ(d["JobName"], "greet");
  EXPECT_EQ(d["JobQueue"], "q");
  EXPECT_EQ(d["Container"]["ExitCode"], 0);
  EXPECT_EQ(d["Container"]["Environment"],
            ordered_json::parse(R"([{"Name": "GREETING", "Value": "hello"}])"));
  EXPECT_EQ(d["Container"]["Memory"], 64);
  EXPECT_EQ(d["Container"]["LogStreamName"], "greeter/default/" + d["JobId"].get<std::string>());
  EXPECT_LE(d["CreatedAt"].get<int64_t>(), d["StartedAt"].get<int64_t>());
  EXPECT_LE(d["StartedAt"].get<int64_t>(), d["StoppedAt"].get<int64_t>());
}

TEST_F(AslCmdTest, FailedBatchJobRaisesTaskFailedWithTheDescriptionAsCause) {
  Write("job.json", kBatchMachine);
  Write("in.json", R"({"command": ["sh", "-c", "echo from-the-job; exit 3"]})");
  Outcome o = Sluice("asl run job.json --input in.json");
  EXPECT_EQ(o.exit_code, 1);
  ordered_json line = o.Line();
  EXPECT_EQ(line["error"], "States.TaskFailed");
  ordered_json cause = ordered_json::parse(line["cause"].get<std::string>());
  EXPECT_EQ(cause["Status"], "FAILED");
  EXPECT_EQ(cause["Container"]["ExitCode"], 3);
  // The job's output goes to stderr, never into stdout's result line.
  EXPECT_NE(o.err.find("from-the-job"), std::string::npos) << o.err;
}

TEST_F(AslCmdTest, BatchJobThatCannotStartFailsWithoutExitCode) {
  Write("job.json", kBatchMachine);
  Write("in.json", R"({"command": ["/no/such/program"]})");
  Outcome o = Sluice("asl run job.json --input in.json");
  EXPECT_EQ(o.exit_code, 1);
  ordered_json cause = ordered_json::parse(o.Line()["cause"].get<std::string>());
  EXPECT_EQ(cause["Status"], "FAILED");
  EXPECT_FALSE(cause["Container"].contains("ExitCode"));
  EXPECT_NE(cause["StatusReason"].get<std::string>().find("CannotStartContainerError"),
            std::string::npos);
}

TEST_F(AslCmdTest, BadSubmitJobRequestRaisesClientException) {
  Write("job.json", TaskMachine("arn:aws:states:::batch:submitJob.sync",
                                R"(, "Parameters": {"JobQueue": "q", "JobDefinition": "d"})"));
  Outcome o = Sluice("asl run job.json");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.Line()["error"], "Batch.ClientException");
  EXPECT_NE(o.Line()["cause"].get<std::string>().find("JobName"), std::string::npos);
}

TEST_F(AslCmdTest, SigintAbortsTheRunAndStopsItsTasks) {
  Write("m.json", TaskMachine("arn:r"));
  Write("b.json", R"({"arn:r": "touch started; sleep 30; touch finished"})");
  std::string out = dir_ + "/stdout";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::string defn = dir_ + "/m.json", bindings = dir_ + "/b.json";
  std::string cwd = fs::current_path();
  fs::current_path(dir_);
  const char* argv[] = {SLUICE_BINARY,    "asl",  "run", defn.c_str(), "--bindings",
                        bindings.c_str(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, SLUICE_BINARY, &actions, nullptr, const_cast<char**>(argv), environ);
  fs::current_path(cwd);
  posix_spawn_file_actions_destroy(&actions);
  ASSERT_EQ(rc, 0);
  for (int i = 0; i < 200 && !fs::exists(dir_ + "/started"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(fs::exists(dir_ + "/started"));
  auto start = std::chrono::steady_clock::now();
  ::kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  ordered_json line = ordered_json::parse(Read(out));
  EXPECT_EQ(line["status"], "ABORTED");
  EXPECT_FALSE(fs::exists(dir_ + "/finished"));
}

}  // namespace
}  // namespace sluice::cli
