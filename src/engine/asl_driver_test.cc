#include "engine/asl_driver.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace sluice::engine {
namespace {
namespace fs = std::filesystem;

// An in-memory engine log and a temp dir: what the scheduler gives a driver.
class FakeContext final : public DriverContext {
 public:
  FakeContext() {
    char tmpl[] = "/tmp/asl-driver-test.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~FakeContext() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  Micros Now() const override { return now; }
  std::string RunDir() const override { return dir_; }
  std::string TaskDir(const std::string& task_id) const override {
    return dir_ + "/tasks/" + task_id;
  }
  Result<std::vector<store::RunEvent>> ReplayEvents() override {
    std::vector<store::RunEvent> out;
    for (const auto& e : log) {
      if (e.replay) out.push_back(e);
    }
    return out;
  }
  Status AppendEvents(const std::vector<store::RunEvent>& events) override {
    for (auto e : events) {
      e.seq = static_cast<int64_t>(log.size()) + 1;
      log.push_back(std::move(e));
    }
    return Status::Ok();
  }
  void WriteAttachment(const std::string& name, const std::string& text) {
    fs::create_directories(dir_ + "/attachments");
    std::ofstream(dir_ + "/attachments/" + name) << text;
  }
  void WriteTaskFile(const std::string& task_id, const std::string& name, const std::string& text) {
    fs::create_directories(TaskDir(task_id));
    std::ofstream(TaskDir(task_id) + "/" + name) << text;
  }

  Micros now = 1'700'000'000'000'000;
  std::vector<store::RunEvent> log;

 private:
  std::string dir_;
};

constexpr char kEchoMachine[] = R"({
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Result": {"n": 2}, "ResultPath": "$.prep", "Next": "Work"},
    "Work": {"Type": "Task", "Resource": "local:work", "ResultPath": "$.work", "End": true}
  }
})";

store::RunRecord AslRun(const std::string& url, const std::string& params = R"({"in": 1})") {
  store::RunRecord run;
  run.id = "run1";
  run.state = State::kInitializing;
  run.request.workflow_type = "ASL";
  run.request.workflow_type_version = "1.0";
  run.request.workflow_url = url;
  run.request.workflow_params = params;
  run.request.attachments = {url};
  return run;
}

store::TaskRecord Task(const std::string& id, State state, std::optional<int> exit_code) {
  store::TaskRecord t;
  t.run_id = "run1";
  t.id = id;
  t.state = state;
  t.exit_code = exit_code;
  t.created_at = 1;
  if (IsTerminal(state)) t.end_time = 2;
  return t;
}

AslDriverOptions Bound() {
  AslDriverOptions o;
  o.bindings["local:work"] = "cat";
  return o;
}

TEST(AslDriver, ValidateListsEveryProblemWithItsLocation) {
  AslDriver driver(Bound());
  store::RunRequest r = AslRun("machine.json").request;
  std::string bad = R"({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Algn"}}})";
  Status st = driver.Validate(r, {{"machine.json", bad}});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("States.A.Next"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("workflow_url"), std::string::npos) << st.message();
  EXPECT_TRUE(driver.Validate(r, {{"machine.json", kEchoMachine}}).ok());
}

TEST(AslDriver, ValidateRefusesAUrlThatNamesNothing) {
  AslDriver driver(Bound());
  store::RunRequest r = AslRun("elsewhere.json").request;
  Status st = driver.Validate(r, {});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("workflow_url"), std::string::npos);
  r.workflow_url = "file:///nonexistent/machine.json";
  EXPECT_FALSE(driver.Validate(r, {}).ok());
}

TEST(AslDriver, BoundTaskRunsWithItsInputAndItsStdoutIsTheResult) {
  AslDriver driver(Bound());
  FakeContext ctx;
  ctx.WriteAttachment("m.json", kEchoMachine);
  store::RunRecord run = AslRun("m.json");

  auto first = driver.Decide(run, {}, ctx);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->start.size(), 1u);
  EXPECT_FALSE(first->finish.has_value());
  const TaskPlan& plan = first->start[0];
  EXPECT_EQ(plan.task_id, "task-1");
  EXPECT_EQ(plan.name, "Work");
  ASSERT_EQ(plan.argv.size(), 3u);
  EXPECT_EQ(plan.argv[0], "/bin/sh");
  EXPECT_NE(plan.argv[2].find("cat"), std::string::npos);
  EXPECT_EQ(plan.env.at("SLUICE_STATE_NAME"), "Work");
  EXPECT_EQ(plan.env.at("SLUICE_ATTEMPT"), "1");
  std::ifstream in(ctx.TaskDir("task-1") + "/input.json");
  std::string input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(nlohmann::json::parse(input), nlohmann::json::parse(R"({"in":1,"prep":{"n":2}})"));
  ASSERT_FALSE(ctx.log.empty());
  EXPECT_TRUE(ctx.log.front().replay);

  // Still running: nothing new.
  auto waiting = driver.Decide(run, {Task("task-1", State::kRunning, std::nullopt)}, ctx);
  ASSERT_TRUE(waiting.ok());
  EXPECT_TRUE(waiting->start.empty());
  EXPECT_FALSE(waiting->finish.has_value());

  ctx.WriteTaskFile("task-1", "stdout", R"({"done": true})");
  auto done = driver.Decide(run, {Task("task-1", State::kComplete, 0)}, ctx);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_TRUE(done->finish.has_value());
  EXPECT_EQ(*done->finish, State::kComplete);
  EXPECT_EQ(nlohmann::json::parse(done->outputs),
            nlohmann::json::parse(R"({"in":1,"prep":{"n":2},"work":{"done":true}})"));
}

TEST(AslDriver, AFreshDriverReplaysTheLogAndStartsNothingTwice) {
  FakeContext ctx;
  ctx.WriteAttachment("m.json", kEchoMachine);
  store::RunRecord run = AslRun("m.json");
  {
    AslDriver driver(Bound());
    auto first = driver.Decide(run, {}, ctx);
    ASSERT_TRUE(first.ok());
    ASSERT_EQ(first->start.size(), 1u);
  }
  // The definition file changes after the start: the recorded one is used.
  ctx.WriteAttachment("m.json", "not json");
  AslDriver restarted(Bound());
  auto again = restarted.Decide(run, {Task("task-1", State::kRunning, std::nullopt)}, ctx);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->start.empty());
  EXPECT_FALSE(again->finish.has_value());
  ctx.WriteTaskFile("task-1", "stdout", "7");
  auto done = restarted.Decide(run, {Task("task-1", State::kComplete, 0)}, ctx);
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(done->finish.has_value());
  EXPECT_EQ(nlohmann::json::parse(done->outputs)["work"], 7);
}

int CountType(const std::vector<store::RunEvent>& log, const std::string& type) {
  int n = 0;
  for (const auto& e : log) n += e.type == type ? 1 : 0;
  return n;
}

TEST(AslDriver, StopRecordsExecutionAbortedOnceEvenFromAFreshDriver) {
  FakeContext ctx;
  ctx.WriteAttachment("m.json", kEchoMachine);
  store::RunRecord run = AslRun("m.json");
  AslDriver driver(Bound());
  ASSERT_TRUE(driver.Decide(run, {}, ctx).ok());  // Work's task is running
  ASSERT_TRUE(driver.Stop(run, ctx).ok());
  EXPECT_EQ(CountType(ctx.log, "ExecutionAborted"), 1);
  EXPECT_EQ(ctx.log.back().type, "ExecutionAborted");
  const size_t entries = ctx.log.size();
  ASSERT_TRUE(driver.Stop(run, ctx).ok());
  AslDriver restarted(Bound());  // a crash before the run ended CANCELED
  ASSERT_TRUE(restarted.Stop(run, ctx).ok());
  EXPECT_EQ(ctx.log.size(), entries);
}

TEST(AslDriver, StopBeforeTheExecutionStartedRecordsNothing) {
  FakeContext ctx;
  ctx.WriteAttachment("m.json", kEchoMachine);
  AslDriver driver(Bound());
  ASSERT_TRUE(driver.Stop(AslRun("m.json"), ctx).ok());
  EXPECT_TRUE(ctx.log.empty());
}

TEST(AslDriver, StopAfterTheExecutionEndedRecordsNothing) {
  FakeContext ctx;
  ctx.WriteAttachment("m.json", kEchoMachine);
  store::RunRecord run = AslRun("m.json");
  AslDriver driver(Bound());
  ASSERT_TRUE(driver.Decide(run, {}, ctx).ok());
  ctx.WriteTaskFile("task-1", "stdout", "{}");
  auto done = driver.Decide(run, {Task("task-1", State::kComplete, 0)}, ctx);
  ASSERT_TRUE(done.ok() && done->finish.has_value());
  const size_t entries = ctx.log.size();
  ASSERT_TRUE(driver.Stop(run, ctx).ok());
  EXPECT_EQ(ctx.log.size(), entries);
  EXPECT_EQ(CountType(ctx.log, "ExecutionAborted"), 0);
}

TEST(AslDriver, FailedCommandWithErrorObjectFailsTheRunWithThatError) {
  AslDriver driver(Bound());
  FakeContext ctx;
  ctx.WriteAttachment("m.json", kEchoMachine);
  store::RunRecord run = AslRun("m.json");
  ASSERT_TRUE(driver.Decide(run, {}, ctx).ok());
  ctx.WriteTaskFile("task-1", "stdout", R"({"Error": "Custom.Oops", "Cause": "bad day"})");
  auto done = driver.Decide(run, {Task("task-1", State::kExecutorError, 3)}, ctx);
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(done->finish.has_value());
  EXPECT_EQ(*done->finish, State::kExecutorError);
  EXPECT_NE(done->reason.find("Custom.Oops"), std::string::npos) << done->reason;
  EXPECT_EQ(nlohmann::json::parse(done->outputs)["Cause"], "bad day");
}

TEST(AslDriver, UnboundResourceFailsTheTaskWithoutStartingAnything) {
  AslDriver driver(AslDriverOptions{});
  FakeContext ctx;
  ctx.WriteAttachment("m.json", kEchoMachine);
  auto d = driver.Decide(AslRun("m.json"), {}, ctx);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->start.empty());
  ASSERT_TRUE(d->finish.has_value());
  EXPECT_EQ(*d->finish, State::kExecutorError);
  EXPECT_NE(d->reason.find("Sluice.ResourceNotBound"), std::string::npos) << d->reason;
}

TEST(AslDriver, WaitStateAsksToBeWokenAtItsDeadline) {
  AslDriver driver(Bound());
  FakeContext ctx;
  ctx.WriteAttachment("w.json", R"({"StartAt": "W", "States": {
      "W": {"Type": "Wait", "Seconds": 30, "Next": "Done"},
      "Done": {"Type": "Succeed"}}})");
  store::RunRecord run = AslRun("w.json");
  auto d = driver.Decide(run, {}, ctx);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->finish.has_value());
  ASSERT_TRUE(d->wake_at.has_value());
  EXPECT_EQ(*d->wake_at, ctx.now + 30 * kMicrosPerSecond);
  ctx.now += 29 * kMicrosPerSecond;
  auto early = driver.Decide(run, {}, ctx);
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(early->finish.has_value());
  ctx.now += 1 * kMicrosPerSecond;
  auto late = driver.Decide(run, {}, ctx);
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE(late->finish.has_value());
  EXPECT_EQ(*late->finish, State::kComplete);
  EXPECT_EQ(nlohmann::json::parse(late->outputs), nlohmann::json::parse(R"({"in":1})"));
}

// Sets the modification time of `path` (creating it) to `at`.
void Touch(const std::string& path, Micros at) {
  std::ofstream(path, std::ios::app).flush();
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = at / kMicrosPerSecond;
  times[0].tv_nsec = times[1].tv_nsec = (at % kMicrosPerSecond) * 1000;
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

TEST(AslDriver, HeartbeatFileKeepsATaskAliveUntilItGoesQuiet) {
  AslDriver driver(Bound());
  FakeContext ctx;
  ctx.WriteAttachment("h.json", R"({"StartAt": "Work", "States": {"Work": {
      "Type": "Task", "Resource": "local:work", "HeartbeatSeconds": 5, "End": true}}})");
  store::RunRecord run = AslRun("h.json");
  const Micros start = ctx.now;
  auto d = driver.Decide(run, {}, ctx);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->start.size(), 1u);
  const std::string beat = d->start[0].env.at("SLUICE_HEARTBEAT_FILE");
  EXPECT_EQ(beat, ctx.TaskDir("task-1") + "/heartbeat");
  ASSERT_TRUE(d->wake_at.has_value());
  EXPECT_EQ(*d->wake_at, start + 5 * kMicrosPerSecond);
  const std::vector<store::TaskRecord> running = {Task("task-1", State::kRunning, std::nullopt)};

  // A heartbeat 3 s in: at the 5 s deadline the task lives on, now until 8 s.
  fs::create_directories(ctx.TaskDir("task-1"));
  Touch(beat, start + 3 * kMicrosPerSecond);
  ctx.now = start + 5 * kMicrosPerSecond;
  auto alive = driver.Decide(run, running, ctx);
  ASSERT_TRUE(alive.ok()) << alive.status().ToString();
  EXPECT_FALSE(alive->finish.has_value());
  EXPECT_TRUE(alive->cancel.empty());
  ASSERT_TRUE(alive->wake_at.has_value());
  EXPECT_EQ(*alive->wake_at, start + 8 * kMicrosPerSecond);
  EXPECT_EQ(CountType(ctx.log, "Input"), 2);  // the start and one heartbeat, fed once

  // A fresh driver (a restart) replays the heartbeat and does not feed it again...
  AslDriver restarted(Bound());
  ctx.now = start + 6 * kMicrosPerSecond;
  auto replayed = restarted.Decide(run, running, ctx);
  ASSERT_TRUE(replayed.ok()) << replayed.status().ToString();
  EXPECT_FALSE(replayed->finish.has_value());
  EXPECT_EQ(CountType(ctx.log, "Input"), 2);

  // ...and with no heartbeat since, the task times out at 8 s.
  ctx.now = start + 8 * kMicrosPerSecond;
  auto quiet = restarted.Decide(run, running, ctx);
  ASSERT_TRUE(quiet.ok()) << quiet.status().ToString();
  ASSERT_TRUE(quiet->finish.has_value());
  EXPECT_EQ(*quiet->finish, State::kExecutorError);
  EXPECT_NE(quiet->reason.find("States.HeartbeatTimeout"), std::string::npos) << quiet->reason;
  EXPECT_EQ(quiet->cancel, (std::vector<std::string>{"task-1"}));
}

TEST(AslDriver, BatchSyncJobRunsItsCommandAndReturnsAJobDescription) {
  AslDriver driver(AslDriverOptions{});
  FakeContext ctx;
  ctx.WriteAttachment("b.json", R"({"StartAt": "Job", "States": {"Job": {
      "Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync",
      "Parameters": {"JobName": "align", "JobQueue": "q", "JobDefinition": "d",
        "ContainerOverrides": {"Command": ["echo", "hi"], "Vcpus": 2, "Memory": 512,
          "Environment": [{"Name": "REGION", "Value": "chr1"}]}},
      "End": true}}})");
  store::RunRecord run = AslRun("b.json");
  auto d = driver.Decide(run, {}, ctx);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->start.size(), 1u);
  EXPECT_EQ(d->start[0].argv, (std::vector<std::string>{"echo", "hi"}));
  EXPECT_EQ(d->start[0].env.at("REGION"), "chr1");
  EXPECT_EQ(d->start[0].resources.cpus, 2);
  EXPECT_EQ(d->start[0].resources.memory_mb, 512);
  auto done = driver.Decide(run, {Task("task-1", State::kComplete, 0)}, ctx);
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(done->finish.has_value());
  EXPECT_EQ(*done->finish, State::kComplete);
  auto out = nlohmann::json::parse(done->outputs);
  EXPECT_EQ(out["JobName"], "align");
  EXPECT_EQ(out["Status"], "SUCCEEDED");
  EXPECT_EQ(out["Container"]["ExitCode"], 0);
}

// submitJob without .sync: answered with the submission once the job's task record exists;
// the execution goes on and ends, and the run waits for the job (it is not stopped).
TEST(AslDriver, SubmitJobWithoutSyncIsAnsweredAtOnceAndTheRunWaitsForTheJob) {
  FakeContext ctx;
  ctx.WriteAttachment("d.json", R"({"StartAt": "Job", "States": {
      "Job": {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob",
        "Parameters": {"JobName": "index", "JobQueue": "q", "JobDefinition": "d",
          "ContainerOverrides": {"Command": ["sleep", "5"]}},
        "ResultPath": "$.job", "Next": "Done"},
      "Done": {"Type": "Succeed"}}})");
  store::RunRecord run = AslRun("d.json");
  AslDriver driver(AslDriverOptions{});
  auto d = driver.Decide(run, {}, ctx);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->start.size(), 1u);
  EXPECT_EQ(d->start[0].argv, (std::vector<std::string>{"sleep", "5"}));
  EXPECT_FALSE(d->finish.has_value());

  // The record exists and the job runs: the state is answered, the execution succeeds, and
  // the run waits for the job instead of stopping it.
  const std::vector<store::TaskRecord> running = {Task("task-1", State::kRunning, std::nullopt)};
  auto waiting = driver.Decide(run, running, ctx);
  ASSERT_TRUE(waiting.ok()) << waiting.status().ToString();
  EXPECT_FALSE(waiting->finish.has_value());
  EXPECT_TRUE(waiting->cancel.empty());
  EXPECT_TRUE(waiting->start.empty());
  EXPECT_EQ(CountType(ctx.log, "ExecutionSucceeded"), 1);

  // The same after a restart (the replayed log says the job was submitted without .sync).
  AslDriver restarted(AslDriverOptions{});
  auto replayed = restarted.Decide(run, running, ctx);
  ASSERT_TRUE(replayed.ok()) << replayed.status().ToString();
  EXPECT_FALSE(replayed->finish.has_value());
  EXPECT_TRUE(replayed->cancel.empty());

  auto done = restarted.Decide(run, {Task("task-1", State::kComplete, 0)}, ctx);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  ASSERT_TRUE(done->finish.has_value());
  EXPECT_EQ(*done->finish, State::kComplete);
  auto out = nlohmann::json::parse(done->outputs);
  EXPECT_EQ(out["job"]["JobName"], "index");
  EXPECT_EQ(out["job"]["JobId"].get<std::string>().empty(), false);
  EXPECT_TRUE(out["job"].contains("JobArn"));
}

}  // namespace
}  // namespace sluice::engine
