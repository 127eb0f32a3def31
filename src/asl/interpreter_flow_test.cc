// Interpreter tests, part 2: Task, Retry, Catch, timeouts, stop, Parallel, Map, replay
// determinism and large runs.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "asl/interpreter.h"
#include "asl/states/test_driver.h"

namespace sluice::asl {
namespace {

using testing::Answer;
using testing::Def;
using testing::Driver;
using testing::Dump;
using testing::J;
using testing::kT0;
using testing::RunMachine;
using Status = ExecutionResult::Status;

constexpr Micros kSec = kMicrosPerSecond;

// --- Task ---

TEST(InterpreterTask, StartsTheTaskWithItsEffectiveInputAndContext) {
  ExecutionOptions opts;
  opts.execution_name = "e1";
  auto def = Def(R"({"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync",
          "InputPath": "$.job", "Parameters": {"JobName.$": "$.name", "Fixed": 1},
          "End": true}}})");
  Driver d(def, opts);
  const Transition& tr = d.Start(J(R"({"job": {"name": "j1"}, "other": 2})"));
  ASSERT_EQ(tr.start_tasks.size(), 1u);
  const StartTask& st = tr.start_tasks[0];
  EXPECT_EQ(st.task_id, "1");
  EXPECT_EQ(st.state_name, "T");
  EXPECT_EQ(st.resource, "arn:aws:states:::batch:submitJob.sync");
  EXPECT_EQ(st.input, J(R"({"JobName": "j1", "Fixed": 1})"));
  EXPECT_EQ(st.attempt, 0);
  EXPECT_EQ(st.scope, "");
  EXPECT_FALSE(st.timeout_seconds.has_value());  // no 60 s default
  EXPECT_FALSE(st.heartbeat_seconds.has_value());
  EXPECT_TRUE(tr.start_timers.empty());
  EXPECT_EQ(st.context["State"]["Name"], "T");
  EXPECT_EQ(st.context["State"]["RetryCount"], 0);
  EXPECT_EQ(st.context["Execution"]["Name"], "e1");
  EXPECT_EQ(st.context["Execution"]["Input"], J(R"({"job": {"name": "j1"}, "other": 2})"));
  EXPECT_FALSE(st.context.contains("Map"));
  ASSERT_EQ(d.exec_.RunningTasks().size(), 1u);
  EXPECT_EQ(d.exec_.RunningTasks()[0].task_id, "1");
}

TEST(InterpreterTask, ProcessesTheResult) {
  auto r = RunMachine(R"({"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:r",
          "ResultSelector": {"id.$": "$.JobId", "code.$": "$.Container.ExitCode"},
          "ResultPath": "$.job", "OutputPath": "$.job", "End": true}}})",
                      J(R"({"in": 1})"), [](const StartTask&) {
                        return Answer::Ok(J(R"({"JobId": "x", "Container": {"ExitCode": 0}})"));
                      });
  ASSERT_EQ(r.status, Status::kSucceeded) << r.cause;
  EXPECT_EQ(r.output, J(R"({"id": "x", "code": 0})"));
}

TEST(InterpreterTask, ResultPathKeepsTheRawInput) {
  auto r = RunMachine(R"({"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:r", "InputPath": "$.a", "ResultPath": "$.r",
          "End": true}}})",
                      J(R"({"a": 1, "b": 2})"), [](const StartTask& t) {
                        return Answer::Ok(Value{{"got", t.input}});
                      });
  EXPECT_EQ(r.output, J(R"({"a": 1, "b": 2, "r": {"got": 1}})"));
}

struct TimeoutCase {
  std::string name;
  std::string fields;
  std::string input;
  std::optional<int64_t> timeout;
  std::optional<int64_t> heartbeat;
};

TEST(InterpreterTask, TimeoutAndHeartbeatTimers) {
  const std::vector<TimeoutCase> cases = {
      {"literal", R"("TimeoutSeconds": 30, "HeartbeatSeconds": 10)", "{}", 30, 10},
      {"paths", R"("TimeoutSecondsPath": "$.t", "HeartbeatSecondsPath": "$.h")",
       R"({"t": 60, "h": 5})", 60, 5},
      {"timeout only", R"("TimeoutSeconds": 7)", "{}", 7, std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto def = Def(R"({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:r", )" +
                   c.fields + R"(, "End": true}}})");
    ASSERT_TRUE(def);
    Driver d(def);
    const Transition& tr = d.Start(J(c.input));
    ASSERT_EQ(tr.start_tasks.size(), 1u);
    EXPECT_EQ(tr.start_tasks[0].timeout_seconds, c.timeout);
    EXPECT_EQ(tr.start_tasks[0].heartbeat_seconds, c.heartbeat);
    std::set<Micros> deadlines;
    for (const auto& t : tr.start_timers) deadlines.insert(t.deadline);
    std::set<Micros> expected;
    if (c.timeout) expected.insert(kT0 + *c.timeout * kSec);
    if (c.heartbeat) expected.insert(kT0 + *c.heartbeat * kSec);
    EXPECT_EQ(deadlines, expected);
    EXPECT_EQ(d.exec_.PendingTimers().size(), expected.size());
    // Success cancels the task's timers.
    const Transition& end = d.Succeed("1", J("1"));
    EXPECT_EQ(end.cancel_timers.size(), expected.size());
    EXPECT_TRUE(d.timers_.empty());
  }
}

TEST(InterpreterTask, TimeoutFailsWithStatesTimeoutAndCancelsTheTask) {
  auto def = Def(R"({"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:r", "TimeoutSeconds": 30, "End": true}}})");
  Driver d(def);
  const Transition& tr = d.Start(J("{}"));
  ASSERT_EQ(tr.start_timers.size(), 1u);
  const Transition& out = d.Fire(tr.start_timers[0].timer_id);
  ASSERT_EQ(out.cancel_tasks.size(), 1u);
  EXPECT_EQ(out.cancel_tasks[0].task_id, "1");
  ASSERT_TRUE(out.result.has_value());
  EXPECT_EQ(out.result->error, "States.Timeout");
  // The late result of the cancelled task is ignored.
  EXPECT_EQ(Dump(d.Feed(Event::TaskSucceeded("1", J("1"), kT0 + 31 * kSec))), Dump(Transition{}));
}

TEST(InterpreterTask, HeartbeatsPushTheDeadlineBack) {
  auto def = Def(R"({"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:r", "HeartbeatSeconds": 10, "End": true,
          "Catch": [{"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "Late"}]},
    "Late": {"Type": "Pass", "Result": "late", "End": true}}})");
  Driver d(def);
  const Transition& tr = d.Start(J("{}"));
  ASSERT_EQ(tr.start_timers.size(), 1u);
  std::string first = tr.start_timers[0].timer_id;
  d.now_ = kT0 + 8 * kSec;
  const Transition& hb = d.Feed(Event::TaskHeartbeat("1", d.now_));
  ASSERT_EQ(hb.cancel_timers.size(), 1u);
  EXPECT_EQ(hb.cancel_timers[0].timer_id, first);
  ASSERT_EQ(hb.start_timers.size(), 1u);
  EXPECT_EQ(hb.start_timers[0].deadline, kT0 + 18 * kSec);
  // The old timer firing anyway is harmless.
  EXPECT_EQ(Dump(d.Feed(Event::TimerFired(first, kT0 + 10 * kSec))), Dump(Transition{}));
  const Transition& out = d.Fire(hb.start_timers[0].timer_id);
  ASSERT_TRUE(out.result.has_value());
  EXPECT_EQ(out.result->output, "late");
  EXPECT_EQ(out.cancel_tasks.size(), 1u);
}

TEST(InterpreterTask, EmptyErrorNameBecomesTaskFailed) {
  auto r = RunMachine(R"({"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:r", "End": true}}})",
                      J("{}"), [](const StartTask&) { return Answer::Err("", "no name"); });
  EXPECT_EQ(r.error, "States.TaskFailed");
  EXPECT_EQ(r.cause, "no name");
}

// --- Retry ---

std::string RetryMachine(const std::string& retriers, const std::string& catchers = "[]") {
  return R"({"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:r", "Retry": )" +
         retriers + R"(, "Catch": )" + catchers + R"(, "End": true},
    "Caught": {"Type": "Pass", "End": true}}})";
}

struct RetryCase {
  std::string name;
  std::string retriers;
  std::string error;
  std::vector<double> delays;  // seconds between each failure and the next attempt
};

TEST(InterpreterRetry, SchedulesBackoffTimers) {
  const std::vector<RetryCase> cases = {
      {"defaults: 1 s, x2, 3 attempts", R"([{"ErrorEquals": ["States.ALL"]}])", "E", {1, 2, 4}},
      {"interval and rate",
       R"([{"ErrorEquals": ["E"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 3}])",
       "E",
       {2, 6, 18}},
      {"MaxDelaySeconds caps",
       R"([{"ErrorEquals": ["E"], "IntervalSeconds": 2, "MaxDelaySeconds": 5, "MaxAttempts": 4}])",
       "E",
       {2, 4, 5, 5}},
      {"MaxAttempts 0 never retries", R"([{"ErrorEquals": ["E"], "MaxAttempts": 0}])", "E", {}},
      {"no matching retrier", R"([{"ErrorEquals": ["Other"]}])", "E", {}},
      {"TaskFailed matches custom errors",
       R"([{"ErrorEquals": ["States.TaskFailed"],
        "MaxAttempts": 1}])",
       "Custom.Error",
       {1}},
      {"TaskFailed does not match Timeout",
       R"([{"ErrorEquals": ["States.TaskFailed"]}])",
       "States.Timeout",
       {}},
      {"first matching retrier only, even when exhausted",
       R"([{"ErrorEquals": ["E"], "MaxAttempts": 1, "IntervalSeconds": 3},
           {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}])",
       "E",
       {3}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto def = Def(RetryMachine(c.retriers));
    ASSERT_TRUE(def);
    Driver d(def);
    d.Start(J("{}"));
    std::vector<double> delays;
    for (int attempt = 0; attempt < 10; ++attempt) {
      ASSERT_EQ(d.running_.size(), 1u);
      const StartTask task = d.running_.begin()->second;
      EXPECT_EQ(task.attempt, attempt);
      EXPECT_EQ(task.context["State"]["RetryCount"], attempt);
      d.now_ += 1 * kSec;  // the attempt takes a second
      const Transition& tr = d.Fail(task.task_id, c.error, "cause");
      if (tr.result) break;
      ASSERT_EQ(tr.start_timers.size(), 1u);
      delays.push_back(static_cast<double>(tr.start_timers[0].deadline - d.now_) / kSec);
      d.Fire(tr.start_timers[0].timer_id);
    }
    EXPECT_EQ(delays, c.delays);
    ASSERT_TRUE(d.result_.has_value());
    EXPECT_EQ(d.result_->status, Status::kFailed);
    EXPECT_EQ(d.result_->error, c.error);
    EXPECT_EQ(d.started_.size(), c.delays.size() + 1);
  }
}

TEST(InterpreterRetry, FullJitterIsBelowTheBackoffAndSeeded) {
  auto run = [](uint64_t seed) {
    ExecutionOptions opts;
    opts.seed = seed;
    auto def = Def(RetryMachine(R"([{"ErrorEquals": ["E"], "IntervalSeconds": 10,
        "MaxAttempts": 3, "JitterStrategy": "FULL"}])"));
    Driver d(def, opts);
    d.Start(J("{}"));
    std::vector<Micros> delays;
    while (!d.result_ && !d.running_.empty()) {
      const Transition& tr = d.Fail(d.running_.begin()->first, "E");
      if (tr.result) break;
      delays.push_back(tr.start_timers.at(0).deadline - d.now_);
      d.Fire(tr.start_timers[0].timer_id);
    }
    return delays;
  };
  std::vector<Micros> a = run(7);
  ASSERT_EQ(a.size(), 3u);
  const Micros caps[] = {10 * kSec, 20 * kSec, 40 * kSec};
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_GE(a[i], 0);
    EXPECT_LT(a[i], caps[i]);
  }
  EXPECT_EQ(run(7), a);  // same seed, same delays
  EXPECT_NE(run(8), a);
}

TEST(InterpreterRetry, CountersResetWhenTheStateIsEnteredAgain) {
  auto def = Def(R"({"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:r", "Next": "Again",
          "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 1}]},
    "Again": {"Type": "Choice", "Choices": [
      {"Variable": "$.n", "NumericLessThan": 3, "Next": "T"}], "Default": "Done"},
    "Done": {"Type": "Succeed"}}})");
  Driver d(def);
  d.Start(J("{}"));
  // Each entry: fail once (retried), then succeed. A shared counter would fail the second time.
  int n = 0;
  d.Run([&](const StartTask& t) {
    if (t.attempt == 0) return Answer::Err("E");
    return Answer::Ok(Value{{"n", ++n}});
  });
  ASSERT_TRUE(d.result_.has_value());
  EXPECT_EQ(d.result_->status, Status::kSucceeded) << d.result_->error;
  EXPECT_EQ(d.result_->output, J(R"({"n": 3})"));
  EXPECT_EQ(d.started_.size(), 6u);
}

TEST(InterpreterRetry, RuntimeErrorsAreNeitherRetriedNorCaught) {
  auto def = Def(R"({"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:r", "ResultSelector": {"x.$": "$.missing"},
          "Retry": [{"ErrorEquals": ["States.ALL"]}],
          "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}], "End": true},
    "C": {"Type": "Succeed"}}})");
  Driver d(def);
  d.Start(J("{}"));
  const Transition& tr = d.Succeed("1", J("{}"));
  ASSERT_TRUE(tr.result.has_value());
  EXPECT_EQ(tr.result->error, "States.Runtime");
  EXPECT_TRUE(tr.start_timers.empty());
}

// --- Catch ---

struct CatchCase {
  std::string name;
  std::string catchers;
  std::string error;
  std::string output;  // or "FAILED"
};

TEST(InterpreterCatch, PlacesTheErrorOutputAndFollowsTheFirstMatch) {
  const std::vector<CatchCase> cases = {
      {"default ResultPath replaces the input", R"([{"ErrorEquals": ["E"], "Next": "Caught"}])",
       "E", R"({"Error": "E", "Cause": "why"})"},
      {"ResultPath merges into the raw input",
       R"([{"ErrorEquals": ["E"], "ResultPath": "$.err", "Next": "Caught"}])", "E",
       R"({"in": 1, "err": {"Error": "E", "Cause": "why"}})"},
      {"ResultPath null keeps the input",
       R"([{"ErrorEquals": ["E"], "ResultPath": null, "Next": "Caught"}])", "E", R"({"in": 1})"},
      {"first match in order",
       R"([{"ErrorEquals": ["X"], "Next": "Caught"},
           {"ErrorEquals": ["E"], "ResultPath": "$.first", "Next": "Caught"},
           {"ErrorEquals": ["States.ALL"], "ResultPath": "$.second", "Next": "Caught"}])",
       "E", R"({"in": 1, "first": {"Error": "E", "Cause": "why"}})"},
      {"States.ALL", R"([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.e", "Next": "Caught"}])",
       "Whatever", R"({"in": 1, "e": {"Error": "Whatever", "Cause": "why"}})"},
      {"no match fails", R"([{"ErrorEquals": ["X"], "Next": "Caught"}])", "E", "FAILED"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = RunMachine(RetryMachine("[]", c.catchers), J(R"({"in": 1})"),
                        [&](const StartTask&) { return Answer::Err(c.error, "why"); });
    if (c.output == "FAILED") {
      EXPECT_EQ(r.status, Status::kFailed);
      EXPECT_EQ(r.error, c.error);
      EXPECT_EQ(r.cause, "why");
    } else {
      ASSERT_EQ(r.status, Status::kSucceeded) << r.error;
      EXPECT_EQ(r.output, J(c.output));
    }
  }
}

TEST(InterpreterCatch, CatchAppliesAfterRetriesAreExhausted) {
  auto def = Def(RetryMachine(R"([{"ErrorEquals": ["E"], "MaxAttempts": 2}])",
                              R"([{"ErrorEquals": ["E"], "Next": "Caught"}])"));
  Driver d(def);
  d.Start(J("{}"));
  d.Run([](const StartTask&) { return Answer::Err("E", "c"); });
  ASSERT_TRUE(d.result_.has_value());
  EXPECT_EQ(d.result_->status, Status::kSucceeded);
  EXPECT_EQ(d.started_.size(), 3u);
}

// --- Execution timeout and stop ---

TEST(InterpreterExecution, MachineTimeoutEndsTheExecution) {
  auto def = Def(R"({"TimeoutSeconds": 100, "StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:r", "End": true}}})");
  Driver d(def);
  const Transition& tr = d.Start(J("{}"));
  ASSERT_EQ(tr.start_timers.size(), 1u);
  EXPECT_EQ(tr.start_timers[0].deadline, kT0 + 100 * kSec);
  const Transition& out = d.Fire(tr.start_timers[0].timer_id);
  ASSERT_TRUE(out.result.has_value());
  EXPECT_EQ(out.result->status, Status::kTimedOut);
  EXPECT_EQ(out.result->error, "States.Timeout");
  ASSERT_EQ(out.cancel_tasks.size(), 1u);
  EXPECT_EQ(out.cancel_tasks[0].task_id, "1");
  EXPECT_EQ(d.history_.back().type, "ExecutionTimedOut");
}

TEST(InterpreterExecution, FinishingCancelsTheMachineTimer) {
  auto def = Def(R"({"TimeoutSeconds": 100, "StartAt": "P", "States": {
    "P": {"Type": "Pass", "End": true}}})");
  Driver d(def);
  const Transition& tr = d.Start(J("{}"));
  ASSERT_TRUE(tr.result.has_value());
  EXPECT_EQ(tr.start_timers.size(), 1u);
  EXPECT_EQ(tr.cancel_timers.size(), 1u);
  EXPECT_TRUE(d.timers_.empty());
}

TEST(InterpreterExecution, StopAbortsAndCancelsEverything) {
  auto def = Def(R"({"StartAt": "P", "States": {
    "P": {"Type": "Parallel", "End": true, "Branches": [
      {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:r", "End": true}}},
      {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}]}}})");
  Driver d(def);
  d.Start(J("{}"));
  EXPECT_EQ(d.running_.size(), 1u);
  EXPECT_EQ(d.timers_.size(), 1u);
  const Transition& out = d.Feed(Event::Stop("User.Stop", "enough", kT0 + kSec));
  ASSERT_TRUE(out.result.has_value());
  EXPECT_EQ(out.result->status, Status::kAborted);
  EXPECT_EQ(out.result->error, "User.Stop");
  EXPECT_EQ(out.result->cause, "enough");
  EXPECT_TRUE(d.running_.empty());
  EXPECT_TRUE(d.timers_.empty());
  EXPECT_TRUE(d.exec_.RunningTasks().empty());
  EXPECT_TRUE(d.exec_.PendingTimers().empty());
  EXPECT_EQ(Dump(d.Feed(Event::TaskSucceeded("1", J("1"), kT0 + 2 * kSec))), Dump(Transition{}));
}

// --- Parallel ---

constexpr char kParallel[] = R"({"StartAt": "P", "States": {
  "P": {"Type": "Parallel", "ResultPath": "$.results", "Next": "Done",
        "Catch": [{"ErrorEquals": ["B.Error"], "ResultPath": "$.caught", "Next": "Done"}],
        "Branches": [
    {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:a", "End": true}}},
    {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "arn:b", "End": true}}},
    {"StartAt": "C", "States": {"C": {"Type": "Succeed", "OutputPath": "$.in"}}}]},
  "Done": {"Type": "Succeed"}}})";

TEST(InterpreterParallel, ResultsAreInBranchOrder) {
  auto def = Def(kParallel);
  Driver d(def);
  const Transition& tr = d.Start(J(R"({"in": "c"})"));
  ASSERT_EQ(tr.start_tasks.size(), 2u);
  EXPECT_EQ(tr.start_tasks[0].scope, "P.branch[0]");
  EXPECT_EQ(tr.start_tasks[1].scope, "P.branch[1]");
  EXPECT_EQ(tr.start_tasks[0].input, J(R"({"in": "c"})"));
  d.Succeed(tr.start_tasks[1].task_id, J(R"("b")"));  // B finishes first
  const Transition& out = d.Succeed(tr.start_tasks[0].task_id, J(R"("a")"));
  ASSERT_TRUE(out.result.has_value());
  EXPECT_EQ(out.result->output, J(R"({"in": "c", "results": ["a", "b", "c"]})"));
}

TEST(InterpreterParallel, AFailingBranchCancelsTheOthersAndIsCaught) {
  auto def = Def(kParallel);
  Driver d(def);
  const Transition& tr = d.Start(J(R"({"in": "c"})"));
  ASSERT_EQ(tr.start_tasks.size(), 2u);
  const Transition& out = d.Fail(tr.start_tasks[1].task_id, "B.Error", "b broke");
  ASSERT_EQ(out.cancel_tasks.size(), 1u);
  EXPECT_EQ(out.cancel_tasks[0].task_id, tr.start_tasks[0].task_id);
  ASSERT_TRUE(out.result.has_value());
  EXPECT_EQ(out.result->output,
            J(R"({"in": "c", "caught": {"Error": "B.Error", "Cause": "b broke"}})"));
}

TEST(InterpreterParallel, RetryRerunsEveryBranch) {
  auto def = Def(R"({"StartAt": "P", "States": {
    "P": {"Type": "Parallel", "End": true,
          "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 1, "IntervalSeconds": 5}],
          "Branches": [
      {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:a", "End": true}}},
      {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "arn:b", "End": true}}}]}}})");
  Driver d(def);
  d.Start(J("{}"));
  d.Succeed("1", J("1"));
  const Transition& fail = d.Fail("2", "E");
  ASSERT_EQ(fail.start_timers.size(), 1u);
  EXPECT_EQ(fail.start_timers[0].deadline, d.now_ + 5 * kSec);
  const Transition& again = d.Fire(fail.start_timers[0].timer_id);
  ASSERT_EQ(again.start_tasks.size(), 2u);  // both branches run again
  EXPECT_EQ(again.start_tasks[0].task_id, "3");
  EXPECT_EQ(again.start_tasks[1].task_id, "4");
  d.Succeed("3", J(R"("x")"));
  const Transition& out = d.Succeed("4", J(R"("y")"));
  ASSERT_TRUE(out.result.has_value());
  EXPECT_EQ(out.result->output, J(R"(["x", "y"])"));
}

TEST(InterpreterParallel, FailStateInABranchFailsTheExecution) {
  auto r = RunMachine(R"({"StartAt": "P", "States": {
    "P": {"Type": "Parallel", "End": true, "Branches": [
      {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Br", "Cause": "x"}}},
      {"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}]}}})",
                      J("{}"));
  EXPECT_EQ(r.status, Status::kFailed);
  EXPECT_EQ(r.error, "Br");
  EXPECT_EQ(r.cause, "x");
}

// --- Map ---

std::string MapMachine(const std::string& fields, const std::string& processor_state,
                       const std::string& extra_states = "") {
  return R"({"StartAt": "M", "States": {)" + extra_states + R"(
    "M": {"Type": "Map", "End": true, )" +
         fields + R"(,
          "ItemProcessor": {"StartAt": "Work", "States": {"Work": )" +
         processor_state + "}}}}}";
}
constexpr char kTaskState[] = R"({"Type": "Task", "Resource": "arn:w", "End": true})";

TEST(InterpreterMap, ResultsAreInInputOrder) {
  auto def = Def(MapMachine(R"("ItemsPath": "$.items")", kTaskState));
  Driver d(def);
  const Transition& tr = d.Start(J(R"({"items": [10, 20, 30]})"));
  ASSERT_EQ(tr.start_tasks.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(tr.start_tasks[i].task_id, std::to_string(i + 1));
    EXPECT_EQ(tr.start_tasks[i].scope, "M[" + std::to_string(i) + "]");
    EXPECT_EQ(tr.start_tasks[i].input, 10 * (i + 1));
    EXPECT_FALSE(tr.start_tasks[i].context.contains("Map"));
  }
  d.Succeed("3", J(R"("c")"));
  d.Succeed("1", J(R"("a")"));
  const Transition& out = d.Succeed("2", J(R"("b")"));
  ASSERT_TRUE(out.result.has_value());
  EXPECT_EQ(out.result->output, J(R"(["a", "b", "c"])"));
}

struct ConcurrencyCase {
  std::string name;
  std::string fields;
  int default_limit;
  size_t expected_max;
};

TEST(InterpreterMap, MaxConcurrencyIsARealLimit) {
  const std::vector<ConcurrencyCase> cases = {
      {"MaxConcurrency 2", R"("MaxConcurrency": 2)", 40, 2},
      {"MaxConcurrency 1", R"("MaxConcurrency": 1)", 40, 1},
      {"MaxConcurrency 0 uses the default", R"("MaxConcurrency": 0)", 3, 3},
      {"absent uses the default", R"("Comment": "none")", 4, 4},
      {"MaxConcurrencyPath", R"("MaxConcurrencyPath": "$.limit")", 40, 5},
      {"limit above the item count", R"("MaxConcurrency": 100)", 40, 12},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ExecutionOptions opts;
    opts.default_max_concurrency = c.default_limit;
    auto def = Def(MapMachine(R"("ItemsPath": "$.items", )" + c.fields, kTaskState));
    ASSERT_TRUE(def);
    Driver d(def, opts);
    Value items = Value::array();
    for (int i = 0; i < 12; ++i) items.push_back(i);
    d.Start(Value{{"items", items}, {"limit", 5}});
    std::vector<int64_t> start_order;
    d.Run([&](const StartTask& t) {
      start_order.push_back(t.input.get<int64_t>());
      return Answer::Ok(t.input.get<int64_t>() * 2);
    });
    ASSERT_TRUE(d.result_.has_value());
    EXPECT_EQ(d.max_running_, c.expected_max);
    Value expected = Value::array();
    for (int i = 0; i < 12; ++i) expected.push_back(i * 2);
    EXPECT_EQ(d.result_->output, expected);
    // Items start in input order.
    for (size_t i = 0; i < start_order.size(); ++i) EXPECT_EQ(start_order[i], int64_t(i));
  }
}

TEST(InterpreterMap, ItemSelectorSeesTheItemItsIndexAndTheMapInput) {
  auto r =
      RunMachine(MapMachine(R"("ItemsPath": "$.xs", "ItemSelector": {"i.$": "$$.Map.Item.Index",
        "v.$": "$$.Map.Item.Value", "shared.$": "$.shared", "state.$": "$$.State.Name"})",
                            R"({"Type": "Pass", "End": true})"),
                 J(R"({"xs": ["a", "b"], "shared": 7})"));
  ASSERT_EQ(r.status, Status::kSucceeded) << r.cause;
  EXPECT_EQ(r.output, J(R"([{"i": 0, "v": "a", "shared": 7, "state": "M"},
                            {"i": 1, "v": "b", "shared": 7, "state": "M"}])"));
}

TEST(InterpreterMap, LegacyIteratorAndParameters) {
  auto r = RunMachine(R"({"StartAt": "M", "States": {
    "M": {"Type": "Map", "End": true, "ItemsPath": "$.xs",
          "Parameters": {"x.$": "$$.Map.Item.Value"},
          "Iterator": {"StartAt": "P", "States": {
            "P": {"Type": "Pass", "OutputPath": "$.x", "End": true}}}}}})",
                      J(R"({"xs": [1, 2]})"));
  ASSERT_EQ(r.status, Status::kSucceeded) << r.cause;
  EXPECT_EQ(r.output, J("[1, 2]"));
}

TEST(InterpreterMap, PipelineAroundTheMap) {
  auto r = RunMachine(
      MapMachine(R"("InputPath": "$.in", "ItemsPath": "$.xs", "ResultSelector": {"all.$": "$"},
        "ResultPath": "$.out")",
                 R"({"Type": "Pass", "Parameters": {"y.$": "$"}, "End": true})"),
      J(R"({"in": {"xs": [1, 2]}, "keep": 1})"));
  ASSERT_EQ(r.status, Status::kSucceeded) << r.cause;
  EXPECT_EQ(r.output,
            J(R"({"in": {"xs": [1, 2]}, "keep": 1, "out": {"all": [{"y": 1}, {"y": 2}]}})"));
}

struct MapInputCase {
  std::string name;
  std::string fields;
  std::string input;
  std::string output;
};

// Items are moved into iterations only when nothing reads them again; these outputs show
// that the input survives wherever it is still needed.
TEST(InterpreterMap, InputSurvivesWhereItIsStillNeeded) {
  const std::string pass =
      R"({"Type": "Pass", "Result": "r", "ResultPath": "$.done", "End": true})";
  const std::vector<MapInputCase> cases = {
      {"items in the input, result replaces it", R"("ItemsPath": "$.xs")",
       R"({"xs": [{"a": 1}, {"a": 2}]})", R"([{"a": 1, "done": "r"}, {"a": 2, "done": "r"}])"},
      {"items in the input, ResultPath keeps it", R"("ItemsPath": "$.xs", "ResultPath": "$.out")",
       R"({"xs": [{"a": 1}]})", R"({"xs": [{"a": 1}], "out": [{"a": 1, "done": "r"}]})"},
      {"InputPath and ResultPath", R"("InputPath": "$.in", "ItemsPath": "$.xs",
        "ResultPath": "$.out")",
       R"({"in": {"xs": [{"a": 1}]}})",
       R"({"in": {"xs": [{"a": 1}]}, "out": [{"a": 1, "done": "r"}]})"},
      {"InputPath, result replaces", R"("InputPath": "$.in", "ItemsPath": "$.xs")",
       R"({"in": {"xs": [{"a": 1}]}})", R"([{"a": 1, "done": "r"}])"},
      {"ItemSelector reads the Map input", R"("ItemsPath": "$.xs",
        "ItemSelector": {"all.$": "$.xs", "v.$": "$$.Map.Item.Value"}, "ResultPath": "$.out")",
       R"({"xs": [1, 2]})",
       R"({"xs": [1, 2], "out": [{"all": [1, 2], "v": 1, "done": "r"},
                                 {"all": [1, 2], "v": 2, "done": "r"}]})"},
      {"items are the whole input, ResultPath into it", R"("ResultPath": "$[1]")",
       R"([{"a": 1}, {"a": 2}])", R"([{"a": 1}, [{"a": 1, "done": "r"}, {"a": 2, "done": "r"}]])"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = RunMachine(MapMachine(c.fields, pass), J(c.input));
    if (c.output == "ERROR") {
      EXPECT_EQ(r.status, Status::kFailed);
      continue;
    }
    ASSERT_EQ(r.status, Status::kSucceeded) << r.error << ": " << r.cause;
    EXPECT_EQ(r.output, J(c.output));
  }
}

TEST(InterpreterMap, ItemSelectorErrorsAreRuntimeErrors) {
  auto r = RunMachine(MapMachine(R"("ItemsPath": "$.xs", "ItemSelector": {"v.$": "$.nope"},
      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}])",
                                 kTaskState, R"("C": {"Type": "Succeed"}, )"),
                      J(R"({"xs": [1]})"));
  EXPECT_EQ(r.status, Status::kFailed);
  EXPECT_EQ(r.error, "States.Runtime");
}

TEST(InterpreterMap, EmptyAndInvalidItems) {
  auto r = RunMachine(MapMachine(R"("ItemsPath": "$.xs")", kTaskState), J(R"({"xs": []})"));
  EXPECT_EQ(r.status, Status::kSucceeded);
  EXPECT_EQ(r.output, J("[]"));
  r = RunMachine(MapMachine(R"("ItemsPath": "$.xs")", kTaskState), J(R"({"xs": {"a": 1}})"));
  EXPECT_EQ(r.error, "States.Runtime");
  r = RunMachine(MapMachine(R"("ItemsPath": "$.nope")", kTaskState), J("{}"));
  EXPECT_EQ(r.error, "States.Runtime");
}

TEST(InterpreterMap, AFailedItemFailsFastAndCancelsSiblings) {
  auto def = Def(MapMachine(R"("ItemsPath": "$.xs", "MaxConcurrency": 3,
      "Catch": [{"ErrorEquals": ["Item.Error"], "Next": "Caught"}])",
                            kTaskState, R"("Caught": {"Type": "Pass", "End": true}, )"));
  ASSERT_TRUE(def);
  Driver d(def);
  const Transition& tr = d.Start(J(R"({"xs": [0, 1, 2, 3, 4, 5]})"));
  ASSERT_EQ(tr.start_tasks.size(), 3u);
  d.Succeed("1", J("0"));  // item 3 starts as task 4
  ASSERT_EQ(d.running_.size(), 3u);
  const Transition& out = d.Fail("2", "Item.Error", "item 1");
  std::set<std::string> cancelled;
  for (const auto& c : out.cancel_tasks) cancelled.insert(c.task_id);
  EXPECT_EQ(cancelled, (std::set<std::string>{"3", "4"}));
  EXPECT_TRUE(out.start_tasks.empty());  // no further items
  ASSERT_TRUE(out.result.has_value());
  EXPECT_EQ(out.result->output, J(R"({"Error": "Item.Error", "Cause": "item 1"})"));
  bool aborted = false;
  for (const auto& h : d.history_) aborted |= h.type == "MapIterationAborted";
  EXPECT_TRUE(aborted);
}

struct ToleranceCase {
  std::string name;
  std::string fields;
  int failures;  // items 0..failures-1 fail
  bool succeeds;
};

TEST(InterpreterMap, ToleratedFailures) {
  const std::vector<ToleranceCase> cases = {
      {"count 1, one failure", R"("ToleratedFailureCount": 1)", 1, true},
      {"count 1, two failures", R"("ToleratedFailureCount": 1)", 2, false},
      {"count 0, one failure", R"("ToleratedFailureCount": 0)", 1, false},
      {"50 percent of 4, two failures", R"("ToleratedFailurePercentage": 50)", 2, true},
      {"50 percent of 4, three failures", R"("ToleratedFailurePercentage": 50)", 3, false},
      {"count path", R"("ToleratedFailureCountPath": "$.tol")", 2, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = RunMachine(
        MapMachine(R"("ItemsPath": "$.xs", "MaxConcurrency": 1, )" + c.fields, kTaskState),
        J(R"({"xs": [0, 1, 2, 3], "tol": 2})"), [&](const StartTask& t) {
          if (t.input.get<int>() < c.failures) return Answer::Err("Bad", "item");
          return Answer::Ok(t.input);
        });
    if (c.succeeds) {
      ASSERT_EQ(r.status, Status::kSucceeded) << r.error;
      Value expected = Value::array();
      for (int i = 0; i < 4; ++i) {
        expected.push_back(i < c.failures ? Value{{"Error", "Bad"}, {"Cause", "item"}} : Value(i));
      }
      EXPECT_EQ(r.output, expected);
    } else {
      EXPECT_EQ(r.status, Status::kFailed);
      EXPECT_EQ(r.error, "States.ExceedToleratedFailureThreshold");
    }
  }
}

TEST(InterpreterMap, WithoutToleranceTheItemErrorIsTheMapError) {
  auto r = RunMachine(MapMachine(R"("ItemsPath": "$.xs")", kTaskState), J(R"({"xs": [1]})"),
                      [](const StartTask&) { return Answer::Err("Item.Err", "c"); });
  EXPECT_EQ(r.error, "Item.Err");
  EXPECT_EQ(r.cause, "c");
}

TEST(InterpreterMap, RetryRerunsEveryItem) {
  auto def = Def(MapMachine(R"("ItemsPath": "$.xs",
      "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 1}])",
                            kTaskState));
  Driver d(def);
  d.Start(J(R"({"xs": [1, 2]})"));
  d.Succeed("1", J("1"));
  const Transition& f = d.Fail("2", "E");
  ASSERT_EQ(f.start_timers.size(), 1u);
  const Transition& again = d.Fire(f.start_timers[0].timer_id);
  ASSERT_EQ(again.start_tasks.size(), 2u);
  EXPECT_EQ(again.start_tasks[0].input, 1);  // item 0 runs again too
  EXPECT_EQ(again.start_tasks[0].attempt, 0);
  d.Run([](const StartTask& t) { return Answer::Ok(t.input); });
  ASSERT_TRUE(d.result_.has_value());
  EXPECT_EQ(d.result_->output, J("[1, 2]"));
}

TEST(InterpreterMap, NestedScopes) {
  auto def = Def(R"({"StartAt": "Outer", "States": {
    "Outer": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "Inner", "States": {
      "Inner": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:t", "End": true}}}}}}}}})");
  Driver d(def);
  const Transition& tr = d.Start(J("[[1], [2, 3]]"));
  std::vector<std::string> scopes;
  for (const auto& s : tr.start_tasks) scopes.push_back(s.scope);
  EXPECT_EQ(scopes, (std::vector<std::string>{"Outer[0]/Inner[0]", "Outer[1]/Inner[0]",
                                              "Outer[1]/Inner[1]"}));
  d.Run([](const StartTask& t) { return Answer::Ok(t.input); });
  ASSERT_TRUE(d.result_.has_value());
  EXPECT_EQ(d.result_->output, J("[[1], [2, 3]]"));
}

TEST(InterpreterMap, ThousandPassItemsRunInOneStep) {
  auto def = Def(MapMachine(R"("ItemsPath": "$.xs", "ItemSelector": {"v.$": "$$.Map.Item.Value"})",
                            R"({"Type": "Pass", "Parameters": {"w.$": "$.v"}, "End": true})"));
  Value xs = Value::array();
  for (int i = 0; i < 1000; ++i) xs.push_back(i);
  Driver d(def);
  const Transition& tr = d.Start(Value{{"xs", xs}});
  ASSERT_TRUE(tr.result.has_value());
  ASSERT_EQ(tr.result->status, Status::kSucceeded) << tr.result->cause;
  ASSERT_EQ(tr.result->output.size(), 1000u);
  EXPECT_EQ(tr.result->output[999], J(R"({"w": 999})"));
  size_t iterations = 0;
  for (const auto& h : tr.history) iterations += h.type == "MapIterationSucceeded";
  EXPECT_EQ(iterations, 1000u);
}

TEST(InterpreterMap, HundredThousandItemsWithoutHistory) {
  ExecutionOptions opts;
  opts.record_history = false;
  opts.max_payload_bytes = 0;
  auto def =
      Def(MapMachine(R"("ItemsPath": "$.xs")",
                     R"({"Type": "Pass", "Result": "ok", "ResultPath": "$.r", "End": true})"));
  Value xs = Value::array();
  for (int i = 0; i < 100'000; ++i) xs.push_back(Value{{"i", i}});
  Driver d(def, opts);
  const Transition& tr = d.Start(Value{{"xs", std::move(xs)}});
  ASSERT_TRUE(tr.result.has_value());
  ASSERT_EQ(tr.result->status, Status::kSucceeded) << tr.result->cause;
  ASSERT_EQ(tr.result->output.size(), 100'000u);
  EXPECT_EQ(tr.result->output[12345], J(R"({"i": 12345, "r": "ok"})"));
}

// --- Replay ---

constexpr char kComplex[] = R"~({"StartAt": "Prep", "States": {
  "Prep": {"Type": "Pass", "Parameters": {"items.$": "States.ArrayRange(1, 6, 1)",
           "id.$": "States.UUID()"}, "Next": "Fan"},
  "Fan": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ResultPath": "$.r",
          "ItemProcessor": {"StartAt": "Work", "States": {
            "Work": {"Type": "Task", "Resource": "arn:w", "TimeoutSeconds": 100,
                     "Retry": [{"ErrorEquals": ["Flaky"], "JitterStrategy": "FULL"}],
                     "Next": "Nap"},
            "Nap": {"Type": "Wait", "Seconds": 3, "End": true}}},
          "Next": "Both"},
  "Both": {"Type": "Parallel", "ResultPath": "$.p", "Next": "Done", "Branches": [
    {"StartAt": "X", "States": {"X": {"Type": "Task", "Resource": "arn:x", "End": true}}},
    {"StartAt": "Y", "States": {"Y": {"Type": "Pass", "Result": "y", "End": true}}}]},
  "Done": {"Type": "Succeed"}}})~";

Answer FlakyResponder(const StartTask& t) {
  if (t.resource == "arn:w" && t.input.get<int>() % 2 == 0 && t.attempt < 2) {
    return Answer::Err("Flaky", "try again");
  }
  return Answer::Ok(Value{{"in", t.input}, {"attempt", t.attempt}});
}

TEST(InterpreterReplay, SameEventsGiveTheSameTransitions) {
  ExecutionOptions opts;
  opts.seed = 42;
  auto def = Def(kComplex);
  Driver d(def, opts);
  d.Start(J("{}"));
  d.Run(FlakyResponder);
  ASSERT_TRUE(d.result_.has_value());
  ASSERT_EQ(d.result_->status, Status::kSucceeded) << d.result_->error << d.result_->cause;
  EXPECT_EQ(d.result_->output["r"].size(), 6u);
  EXPECT_EQ(d.result_->output["r"][1], J(R"({"in": 2, "attempt": 2})"));
  EXPECT_EQ(d.result_->output["p"][1], "y");
  EXPECT_EQ(d.result_->output["p"][0]["attempt"], 0);
  d.ExpectReplayIdentical();
}

TEST(InterpreterReplay, APartialReplayRecoversRunningTasksAndTimers) {
  ExecutionOptions opts;
  opts.seed = 3;
  auto def = Def(kComplex);
  Driver d(def, opts);
  d.Start(J("{}"));
  // Run part of the way, checking after every event that a replay of the prefix agrees on
  // what is outstanding.
  for (int i = 0; i < 12 && !d.result_; ++i) {
    d.Run(FlakyResponder, 1);
    Execution replay(def, opts);
    for (const Event& e : d.events_) replay.Step(e);
    std::set<std::string> want_tasks, got_tasks, want_timers, got_timers;
    for (const auto& [id, t] : d.running_) want_tasks.insert(id);
    for (const auto& t : replay.RunningTasks()) got_tasks.insert(t.task_id);
    for (const auto& [id, t] : d.timers_) want_timers.insert(id);
    for (const auto& t : replay.PendingTimers()) got_timers.insert(t.timer_id);
    EXPECT_EQ(got_tasks, want_tasks);
    EXPECT_EQ(got_timers, want_timers);
  }
}

TEST(InterpreterReplay, DuplicateEventsChangeNothing) {
  ExecutionOptions opts;
  opts.seed = 5;
  auto def = Def(kComplex);
  Driver plain(def, opts), noisy(def, opts);
  plain.Start(J("{}"));
  plain.Run(FlakyResponder);
  ASSERT_TRUE(plain.result_.has_value());
  // Feed the same events to a second execution, each one twice.
  for (const Event& e : plain.events_) {
    noisy.exec_.Step(e);
    Transition again = noisy.exec_.Step(e);
    EXPECT_EQ(Dump(again), Dump(Transition{}));
  }
  EXPECT_TRUE(noisy.exec_.finished());
}

}  // namespace
}  // namespace sluice::asl
