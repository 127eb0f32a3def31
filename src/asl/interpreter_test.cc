// Interpreter tests, part 1: the I/O pipeline, Pass, Choice, Wait, Succeed, Fail, the
// context object, history, events and idempotence. Part 2 (interpreter_flow_test.cc): Task,
// Retry, Catch, timeouts, stop, Parallel, Map, replay and large runs.
#include "asl/interpreter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// A one-state machine: {"Type": "Pass", "End": true, <fields>}.
std::string PassMachine(const std::string& fields) {
  return R"({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true)" +
         (fields.empty() ? "" : ", " + fields) + "}}}";
}

struct PipelineCase {
  std::string name;
  std::string fields;
  std::string input;
  std::string output;
};

TEST(InterpreterPass, AppliesThePipelineInOrder) {
  const std::vector<PipelineCase> cases = {
      {"no fields: output is the input", "", R"({"a": 1})", R"({"a": 1})"},
      {"Result replaces the input", R"("Result": {"x": [1, 2]})", R"({"a": 1})",
       R"({"x": [1, 2]})"},
      {"ResultPath merges into the raw input", R"("Result": 7, "ResultPath": "$.r")", R"({"a": 1})",
       R"({"a": 1, "r": 7})"},
      {"ResultPath creates intermediate objects", R"("Result": 7, "ResultPath": "$.x.y")",
       R"({"a": 1})", R"({"a": 1, "x": {"y": 7}})"},
      {"ResultPath overwrites a field", R"("Result": 7, "ResultPath": "$.a")", R"({"a": 1})",
       R"({"a": 7})"},
      {"ResultPath null keeps the input", R"("Result": 7, "ResultPath": null)", R"({"a": 1})",
       R"({"a": 1})"},
      {"InputPath selects", R"("InputPath": "$.a")", R"({"a": {"b": 2}})", R"({"b": 2})"},
      {"InputPath null gives {}", R"("InputPath": null)", R"({"a": 1})", R"({})"},
      {"OutputPath selects", R"("OutputPath": "$.a.b")", R"({"a": {"b": [3]}})", R"([3])"},
      {"OutputPath null gives {}", R"("OutputPath": null)", R"({"a": 1})", R"({})"},
      {"indefinite InputPath gives a list", R"("InputPath": "$.xs[*].v")",
       R"({"xs": [{"v": 1}, {"v": 2}]})", R"([1, 2])"},
      {"Parameters template with path and intrinsic",
       R"~("Parameters": {"v.$": "$.a", "s.$": "States.MathAdd($.a, 2)", "k": "$.lit"})~",
       R"({"a": 40})", R"({"v": 40, "s": 42, "k": "$.lit"})"},
      {"ResultPath merges into the raw input, not the filtered one",
       R"("InputPath": "$.in", "Parameters": {"v.$": "$.x"}, "ResultPath": "$.out")",
       R"({"in": {"x": 5}, "keep": true})", R"({"in": {"x": 5}, "keep": true, "out": {"v": 5}})"},
      {"whole pipeline", R"("InputPath": "$.in", "Result": {"r": 1}, "ResultPath": "$.res",
         "OutputPath": "$.res")",
       R"({"in": 1})", R"({"r": 1})"},
      {"scalar input", "", "3", "3"},
      {"InputPath node copied when ResultPath keeps the raw input",
       R"("InputPath": "$.a", "ResultPath": "$.r")", R"({"a": {"b": 1}})",
       R"({"a": {"b": 1}, "r": {"b": 1}})"},
      {"bracket paths", R"("InputPath": "$['a b'][1]", "OutputPath": "$.x[0]")",
       R"({"a b": [0, {"x": ["y"]}]})", R"("y")"},
      {"InputPath missing index", R"("InputPath": "$.a[5]", "ResultPath": null)", R"({"a": [1]})",
       "ERROR"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = RunMachine(PassMachine(c.fields), J(c.input));
    if (c.output == "ERROR") {
      EXPECT_EQ(r.error, "States.Runtime");
      continue;
    }
    ASSERT_EQ(r.status, Status::kSucceeded) << r.error << ": " << r.cause;
    EXPECT_EQ(r.output, J(c.output));
  }
}

struct ErrorCase {
  std::string name;
  std::string definition;
  std::string input;
  std::string error;
};

TEST(InterpreterPass, PipelineErrorsFailTheExecution) {
  const std::vector<ErrorCase> cases = {
      {"missing InputPath", PassMachine(R"("InputPath": "$.nope")"), "{}", "States.Runtime"},
      {"missing OutputPath", PassMachine(R"("OutputPath": "$.nope")"), "{}", "States.Runtime"},
      {"missing Parameters path", PassMachine(R"("Parameters": {"a.$": "$.nope"})"), "{}",
       "States.Runtime"},
      {"ResultPath through a scalar", PassMachine(R"("Result": 1, "ResultPath": "$.a.b")"),
       R"({"a": 5})", "States.ResultPathMatchFailure"},
      {"intrinsic failure", PassMachine(R"~("Parameters": {"a.$": "States.ArrayRange(1, 3, 0)"})~"),
       "{}", "States.IntrinsicFailure"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = RunMachine(c.definition, J(c.input));
    EXPECT_EQ(r.status, Status::kFailed);
    EXPECT_EQ(r.error, c.error) << r.cause;
  }
}

TEST(InterpreterContext, ExposesExecutionStateAndStateMachine) {
  ExecutionOptions opts;
  opts.execution_id = "arn:exec:1";
  opts.execution_name = "exec-1";
  opts.state_machine_id = "arn:sm:1";
  opts.state_machine_name = "sm";
  auto r = RunMachine(
      PassMachine(R"("Parameters": {"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name",
        "input.$": "$$.Execution.Input", "start.$": "$$.Execution.StartTime",
        "state.$": "$$.State.Name", "entered.$": "$$.State.EnteredTime",
        "retry.$": "$$.State.RetryCount", "sm.$": "$$.StateMachine.Name",
        "smid.$": "$$.StateMachine.Id"})"),
      J(R"({"a": 1})"), nullptr, opts);
  ASSERT_EQ(r.status, Status::kSucceeded) << r.cause;
  EXPECT_EQ(r.output, J(R"({"id": "arn:exec:1", "name": "exec-1", "input": {"a": 1},
    "start": "2023-11-14T22:13:20.000Z", "state": "P", "entered": "2023-11-14T22:13:20.000Z",
    "retry": 0, "sm": "sm", "smid": "arn:sm:1"})"));
}

TEST(InterpreterContext, OverridesAreMergedAndInputIsTheOriginal) {
  ExecutionOptions opts;
  opts.execution_name = "default";
  opts.context_overrides = J(R"({"Execution": {"Name": "override"}, "Extra": 1})");
  auto r = RunMachine(R"({"StartAt": "A", "States": {
      "A": {"Type": "Pass", "Result": {"changed": true}, "Next": "B"},
      "B": {"Type": "Pass", "Parameters": {"n.$": "$$.Execution.Name", "x.$": "$$.Extra",
            "in.$": "$$.Execution.Input", "s.$": "$$.State.Name"}, "End": true}}})",
                      J(R"({"orig": 1})"), nullptr, opts);
  ASSERT_EQ(r.status, Status::kSucceeded) << r.cause;
  EXPECT_EQ(r.output, J(R"({"n": "override", "x": 1, "in": {"orig": 1}, "s": "B"})"));
}

TEST(InterpreterContext, ContextPathsInInputAndOutputPath) {
  ExecutionOptions opts;
  opts.execution_name = "n1";
  auto r = RunMachine(PassMachine(R"("InputPath": "$$.Execution", "OutputPath": "$.Name")"),
                      J("{}"), nullptr, opts);
  ASSERT_EQ(r.status, Status::kSucceeded) << r.cause;
  EXPECT_EQ(r.output, "n1");
}

// --- Choice ---

std::string ChoiceMachine(const std::string& rule) {
  return R"({"StartAt": "C", "States": {
    "C": {"Type": "Choice", "Choices": [)" +
         rule.substr(0, rule.size() - 1) + R"(, "Next": "Yes"}], "Default": "No"},
    "Yes": {"Type": "Pass", "Result": "yes", "End": true},
    "No": {"Type": "Pass", "Result": "no", "End": true}}})";
}

struct ChoiceCase {
  std::string rule;
  std::string input;
  std::string expected;  // "yes", "no" or an error name
};

TEST(InterpreterChoice, EvaluatesEveryOperator) {
  const std::vector<ChoiceCase> cases = {
      {R"({"Variable": "$.s", "StringEquals": "abc"})", R"({"s": "abc"})", "yes"},
      {R"({"Variable": "$.s", "StringEquals": "abc"})", R"({"s": "ABC"})", "no"},
      {R"({"Variable": "$.s", "StringEquals": "1"})", R"({"s": 1})", "no"},
      {R"({"Variable": "$.s", "StringLessThan": "b"})", R"({"s": "a"})", "yes"},
      {R"({"Variable": "$.s", "StringLessThan": "a"})", R"({"s": "B"})", "yes"},
      {R"({"Variable": "$.s", "StringGreaterThan": "a"})", R"({"s": "a"})", "no"},
      {R"({"Variable": "$.s", "StringLessThanEquals": "a"})", R"({"s": "a"})", "yes"},
      {R"({"Variable": "$.s", "StringGreaterThanEquals": "b"})", R"({"s": "ba"})", "yes"},
      {R"({"Variable": "$.s", "StringEqualsPath": "$.t"})", R"({"s": "x", "t": "x"})", "yes"},
      {R"({"Variable": "$.s", "StringMatches": "log-*.txt"})", R"({"s": "log-2024.txt"})", "yes"},
      {R"({"Variable": "$.s", "StringMatches": "log-*.txt"})", R"({"s": "log-2024.csv"})", "no"},
      {R"({"Variable": "$.s", "StringMatches": "*"})", R"({"s": ""})", "yes"},
      {R"({"Variable": "$.s", "StringMatches": "a*b*c"})", R"({"s": "aXbYbZc"})", "yes"},
      {R"({"Variable": "$.s", "StringMatches": "a*b*c"})", R"({"s": "aXbYbZ"})", "no"},
      {R"({"Variable": "$.s", "StringMatches": "a\\*b"})", R"({"s": "a*b"})", "yes"},
      {R"({"Variable": "$.s", "StringMatches": "a\\*b"})", R"({"s": "aXb"})", "no"},
      {R"({"Variable": "$.s", "StringMatches": "a\\\\b"})", R"({"s": "a\\b"})", "yes"},
      {R"({"Variable": "$.s", "StringMatches": "a?c"})", R"({"s": "abc"})", "no"},
      {R"({"Variable": "$.n", "NumericEquals": 1})", R"({"n": 1.0})", "yes"},
      {R"({"Variable": "$.n", "NumericEquals": 1})", R"({"n": "1"})", "no"},
      {R"({"Variable": "$.n", "NumericLessThan": 10})", R"({"n": "5"})", "no"},
      {R"({"Variable": "$.n", "NumericLessThan": 10})", R"({"n": -5})", "yes"},
      {R"({"Variable": "$.n", "NumericGreaterThan": 1.5})", R"({"n": 2})", "yes"},
      {R"({"Variable": "$.n", "NumericLessThanEquals": 2})", R"({"n": 2})", "yes"},
      {R"({"Variable": "$.n", "NumericGreaterThanEquals": 3})", R"({"n": 2.999})", "no"},
      {R"({"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.m"})", R"({"n": 3, "m": 3})",
       "yes"},
      {R"({"Variable": "$.b", "BooleanEquals": true})", R"({"b": true})", "yes"},
      {R"({"Variable": "$.b", "BooleanEquals": true})", R"({"b": "true"})", "no"},
      {R"({"Variable": "$.b", "BooleanEqualsPath": "$.c"})", R"({"b": false, "c": false})", "yes"},
      {R"({"Variable": "$.t", "TimestampEquals": "2016-03-14T01:59:00Z"})",
       R"({"t": "2016-03-14T03:59:00+02:00"})", "yes"},
      {R"({"Variable": "$.t", "TimestampGreaterThan": "2016-03-14T01:59:00Z"})",
       R"({"t": "2016-03-14T01:59:00.5Z"})", "yes"},
      {R"({"Variable": "$.t", "TimestampLessThan": "2016-03-14T01:59:00Z"})",
       R"({"t": "2016-03-13T23:59:59-03:00"})", "no"},
      {R"({"Variable": "$.t", "TimestampLessThanEquals": "2016-03-14T01:59:00Z"})",
       R"({"t": "not a time"})", "no"},
      {R"({"Variable": "$.t", "TimestampGreaterThanEqualsPath": "$.u"})",
       R"({"t": "2020-01-01T00:00:00Z", "u": "2019-12-31T23:59:59Z"})", "yes"},
      {R"({"Variable": "$.x", "IsPresent": true})", R"({"x": null})", "yes"},
      {R"({"Variable": "$.x", "IsPresent": false})", R"({})", "yes"},
      {R"({"Variable": "$.x", "IsPresent": true})", R"({})", "no"},
      {R"({"Variable": "$.x", "IsNull": true})", R"({"x": null})", "yes"},
      {R"({"Variable": "$.x", "IsNull": false})", R"({"x": 0})", "yes"},
      {R"({"Variable": "$.x", "IsNumeric": true})", R"({"x": 1.5})", "yes"},
      {R"({"Variable": "$.x", "IsNumeric": true})", R"({"x": "1"})", "no"},
      {R"({"Variable": "$.x", "IsString": true})", R"({"x": "1"})", "yes"},
      {R"({"Variable": "$.x", "IsBoolean": true})", R"({"x": false})", "yes"},
      {R"({"Variable": "$.x", "IsTimestamp": true})", R"({"x": "2016-03-14T01:59:00Z"})", "yes"},
      {R"({"Variable": "$.x", "IsTimestamp": true})", R"({"x": "2016-03-14 01:59:00"})", "no"},
      {R"({"Variable": "$.x", "IsTimestamp": true})", R"({"x": "2016-02-30T01:59:00Z"})", "no"},
      {R"({"And": [{"Variable": "$.a", "NumericEquals": 1},
                  {"Variable": "$.b", "NumericEquals": 2}]})",
       R"({"a": 1, "b": 2})", "yes"},
      {R"({"And": [{"Variable": "$.a", "NumericEquals": 1},
                  {"Variable": "$.b", "NumericEquals": 2}]})",
       R"({"a": 1, "b": 3})", "no"},
      {R"({"Or": [{"Variable": "$.a", "NumericEquals": 1},
                 {"Variable": "$.b", "NumericEquals": 2}]})",
       R"({"a": 0, "b": 2})", "yes"},
      {R"({"Not": {"Variable": "$.a", "StringEquals": "x"}})", R"({"a": "y"})", "yes"},
      // Short-circuit: the second operand would fail on the missing variable.
      {R"({"Or": [{"Variable": "$.a", "NumericEquals": 1},
                 {"Variable": "$.missing", "NumericEquals": 2}]})",
       R"({"a": 1})", "yes"},
      {R"({"Variable": "$.missing", "StringEquals": "x"})", R"({})", "States.Runtime"},
      {R"({"Variable": "$.missing", "IsNull": true})", R"({})", "States.Runtime"},
      {R"({"Variable": "$.a", "StringEqualsPath": "$.missing"})", R"({"a": "x"})",
       "States.Runtime"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.rule + " on " + c.input);
    auto r = RunMachine(ChoiceMachine(c.rule), J(c.input));
    if (c.expected == "yes" || c.expected == "no") {
      ASSERT_EQ(r.status, Status::kSucceeded) << r.error << ": " << r.cause;
      EXPECT_EQ(r.output, c.expected);
    } else {
      EXPECT_EQ(r.status, Status::kFailed);
      EXPECT_EQ(r.error, c.expected);
    }
  }
}

TEST(InterpreterChoice, FirstMatchingRuleWins) {
  auto r = RunMachine(R"({"StartAt": "C", "States": {
    "C": {"Type": "Choice", "Choices": [
      {"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Big"},
      {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Medium"}]},
    "Big": {"Type": "Pass", "Result": "big", "End": true},
    "Medium": {"Type": "Pass", "Result": "medium", "End": true}}})",
                      J(R"({"n": 9})"));
  EXPECT_EQ(r.output, "big");
}

TEST(InterpreterChoice, NoMatchWithoutDefaultFailsWithNoChoiceMatched) {
  auto r = RunMachine(R"({"StartAt": "C", "States": {
    "C": {"Type": "Choice", "Choices": [
      {"Variable": "$.n", "NumericEquals": 1, "Next": "One"}]},
    "One": {"Type": "Succeed"}}})",
                      J(R"({"n": 2})"));
  EXPECT_EQ(r.status, Status::kFailed);
  EXPECT_EQ(r.error, "States.NoChoiceMatched");
}

TEST(InterpreterChoice, OutputIsTheFilteredInput) {
  auto r = RunMachine(R"({"StartAt": "C", "States": {
    "C": {"Type": "Choice", "InputPath": "$.in", "OutputPath": "$.keep",
          "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "Done"}]},
    "Done": {"Type": "Succeed"}}})",
                      J(R"({"in": {"n": 1, "keep": [1]}, "drop": 1})"));
  ASSERT_EQ(r.status, Status::kSucceeded) << r.cause;
  EXPECT_EQ(r.output, J("[1]"));
}

TEST(InterpreterChoice, LoopOfTenThousandTransitionsRunsInOneStep) {
  auto def = Def(R"~({"StartAt": "Check", "States": {
    "Check": {"Type": "Choice", "Choices": [
      {"Variable": "$.i", "NumericLessThan": 5000, "Next": "Inc"}], "Default": "Done"},
    "Inc": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
    "Done": {"Type": "Succeed"}}})~");
  ExecutionOptions opts;
  opts.record_history = false;
  Driver d(def, opts);
  const Transition& tr = d.Start(J(R"({"i": 0})"));
  ASSERT_TRUE(tr.result.has_value());
  EXPECT_EQ(tr.result->status, Status::kSucceeded);
  EXPECT_EQ(tr.result->output, J(R"({"i": 5000})"));
  EXPECT_TRUE(tr.history.empty());
}

// --- Wait ---

struct WaitCase {
  std::string name;
  std::string fields;
  std::string input;
  std::optional<Micros> delay;  // nullopt: no timer at all
  std::string output = "{}";
};

TEST(InterpreterWait, ComputesDeadlines) {
  const std::vector<WaitCase> cases = {
      {"Seconds", R"("Seconds": 10)", "{}", 10 * kMicrosPerSecond},
      {"Seconds 0 does not wait", R"("Seconds": 0)", "{}", std::nullopt},
      {"SecondsPath", R"("SecondsPath": "$.s")", R"({"s": 3})", 3 * kMicrosPerSecond,
       R"({"s": 3})"},
      {"SecondsPath after InputPath", R"("InputPath": "$.in", "SecondsPath": "$.s")",
       R"({"in": {"s": 4}})", 4 * kMicrosPerSecond, R"({"s": 4})"},
      {"Timestamp in the future", R"("Timestamp": "2023-11-14T22:14:20Z")", "{}",
       60 * kMicrosPerSecond},
      {"Timestamp with offset and fraction", R"("Timestamp": "2023-11-14T23:13:20.5+01:00")", "{}",
       kMicrosPerSecond / 2},
      {"Timestamp in the past does not wait", R"("Timestamp": "2016-03-14T01:59:00Z")", "{}",
       std::nullopt},
      {"TimestampPath", R"("TimestampPath": "$.t")", R"({"t": "2023-11-14T22:13:30Z"})",
       10 * kMicrosPerSecond, R"({"t": "2023-11-14T22:13:30Z"})"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto def = Def(R"({"StartAt": "W", "States": {"W": {"Type": "Wait", )" + c.fields +
                   R"(, "Next": "Done"}, "Done": {"Type": "Succeed"}}})");
    ASSERT_TRUE(def);
    Driver d(def);
    const Transition& tr = d.Start(J(c.input));
    if (!c.delay) {
      ASSERT_TRUE(tr.result.has_value());
      EXPECT_EQ(tr.result->status, Status::kSucceeded);
      EXPECT_TRUE(tr.start_timers.empty());
      continue;
    }
    ASSERT_FALSE(tr.result.has_value());
    ASSERT_EQ(tr.start_timers.size(), 1u);
    EXPECT_EQ(tr.start_timers[0].deadline, kT0 + *c.delay);
    // The deadline is in the history too.
    bool found = false;
    for (const auto& h : tr.history) {
      if (h.type == "WaitStateEntered") {
        found = true;
        EXPECT_EQ(h.details["deadline"], kT0 + *c.delay);
      }
    }
    EXPECT_TRUE(found);
    const Transition& done = d.Fire(tr.start_timers[0].timer_id);
    ASSERT_TRUE(done.result.has_value());
    EXPECT_EQ(done.result->status, Status::kSucceeded);
    EXPECT_EQ(done.result->output, J(c.output));
  }
}

TEST(InterpreterWait, BadPathsAreRuntimeErrors) {
  for (const std::string fields :
       {R"("SecondsPath": "$.s")", R"("TimestampPath": "$.s")", R"("SecondsPath": "$.nope")"}) {
    SCOPED_TRACE(fields);
    auto r = RunMachine(
        R"({"StartAt": "W", "States": {"W": {"Type": "Wait", )" + fields + R"(, "End": true}}})",
        J(R"({"s": "soon"})"));
    EXPECT_EQ(r.status, Status::kFailed);
    EXPECT_EQ(r.error, "States.Runtime");
  }
}

TEST(InterpreterWait, EarlyOrUnknownTimerEventsAreIgnored) {
  auto def = Def(R"({"StartAt": "W", "States": {
    "W": {"Type": "Wait", "Seconds": 5, "End": true}}})");
  Driver d(def);
  const Transition& tr = d.Start(J("{}"));
  ASSERT_EQ(tr.start_timers.size(), 1u);
  EXPECT_EQ(Dump(d.Feed(Event::TimerFired("no-such-timer", kT0 + 1))), Dump(Transition{}));
  const Transition& done = d.Fire(tr.start_timers[0].timer_id);
  ASSERT_TRUE(done.result.has_value());
  // A second delivery of the same timer is a duplicate.
  EXPECT_EQ(Dump(d.Feed(Event::TimerFired(tr.start_timers[0].timer_id, kT0 + 9))),
            Dump(Transition{}));
}

// --- Succeed and Fail ---

TEST(InterpreterSucceed, AppliesInputPathThenOutputPath) {
  auto r = RunMachine(R"({"StartAt": "S", "States": {
    "S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}}})",
                      J(R"({"a": {"b": {"c": 1}}})"));
  ASSERT_EQ(r.status, Status::kSucceeded);
  EXPECT_EQ(r.output, J(R"({"c": 1})"));
}

struct FailCase {
  std::string name;
  std::string fields;
  std::string input;
  std::string error;
  std::string cause;
};

TEST(InterpreterFail, ResolvesErrorAndCause) {
  const std::vector<FailCase> cases = {
      {"literals", R"("Error": "MyError", "Cause": "because")", "{}", "MyError", "because"},
      {"absent fields are empty", "", "{}", "", ""},
      {"paths", R"("ErrorPath": "$.e", "CausePath": "$.c")", R"({"e": "E1", "c": "C1"})", "E1",
       "C1"},
      {"intrinsic cause", R"~("Error": "E", "CausePath": "States.Format('n={}', $.n)")~",
       R"({"n": 3})", "E", "n=3"},
      {"non-string ErrorPath", R"("ErrorPath": "$.e")", R"({"e": 1})", "States.Runtime", ""},
      {"missing CausePath", R"("Error": "E", "CausePath": "$.nope")", R"({})", "States.Runtime",
       ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = RunMachine(R"({"StartAt": "F", "States": {"F": {"Type": "Fail")" +
                            (c.fields.empty() ? "" : ", " + c.fields) + "}}}",
                        J(c.input));
    EXPECT_EQ(r.status, Status::kFailed);
    EXPECT_EQ(r.error, c.error);
    if (c.error != "States.Runtime") {
      EXPECT_EQ(r.cause, c.cause);
    }
  }
}

// --- History ---

TEST(InterpreterHistory, RecordsStatesTasksAndTheEnd) {
  auto def = Def(R"({"StartAt": "P", "States": {
    "P": {"Type": "Pass", "Result": {"x": 1}, "Next": "T"},
    "T": {"Type": "Task", "Resource": "arn:r", "Parameters": {"y.$": "$.x"}, "Next": "S"},
    "S": {"Type": "Succeed"}}})");
  Driver d(def);
  const Transition& first = d.Start(J(R"({"in": 1})"));
  ASSERT_EQ(first.start_tasks.size(), 1u);
  d.Succeed(first.start_tasks[0].task_id, J(R"({"done": true})"));
  std::vector<std::string> types;
  for (const auto& h : d.history_) types.push_back(h.type);
  EXPECT_EQ(types, (std::vector<std::string>{
                       "ExecutionStarted", "PassStateEntered", "PassStateExited",
                       "TaskStateEntered", "TaskScheduled", "TaskSucceeded", "TaskStateExited",
                       "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"}));
  const auto& h = d.history_;
  EXPECT_EQ(h[0].details["input"], J(R"({"in": 1})"));
  EXPECT_EQ(h[1].state_name, "P");
  EXPECT_EQ(h[1].details["input"], J(R"({"in": 1})"));
  EXPECT_EQ(h[2].details["output"], J(R"({"x": 1})"));
  EXPECT_EQ(h[4].details["task_id"], "1");
  EXPECT_EQ(h[4].details["resource"], "arn:r");
  EXPECT_EQ(h[4].details["parameters"], J(R"({"y": 1})"));
  EXPECT_EQ(h[5].details["output"], J(R"({"done": true})"));
  EXPECT_EQ(h[9].details["output"], J(R"({"done": true})"));
  EXPECT_EQ(h[0].at, kT0);
}

TEST(InterpreterHistory, FailuresCarryErrorAndCause) {
  auto def = Def(R"({"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:r", "End": true}}})");
  Driver d(def);
  d.Start(J("{}"));
  d.Fail("1", "Boom", "it broke");
  ASSERT_GE(d.history_.size(), 2u);
  const auto& failed = d.history_[d.history_.size() - 2];
  EXPECT_EQ(failed.type, "TaskFailed");
  EXPECT_EQ(failed.details["error"], "Boom");
  EXPECT_EQ(failed.details["cause"], "it broke");
  EXPECT_EQ(d.history_.back().type, "ExecutionFailed");
  EXPECT_EQ(d.history_.back().details["error"], "Boom");
}

TEST(InterpreterHistory, NothingIsRecordedWhenDisabled) {
  ExecutionOptions opts;
  opts.record_history = false;
  auto def = Def(R"({"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:r", "End": true}}})");
  Driver d(def, opts);
  EXPECT_TRUE(d.Start(J("{}")).history.empty());
  EXPECT_TRUE(d.Succeed("1", J("1")).history.empty());
  ASSERT_TRUE(d.result_.has_value());
}

// --- Events and idempotence ---

TEST(InterpreterEvents, RoundTripThroughJson) {
  const std::vector<Event> events = {
      Event::Start(J(R"({"a": [1]})"), 5), Event::TaskSucceeded("3", J("{}"), 6),
      Event::TaskFailed("4", "E", "C", 7), Event::TaskHeartbeat("5", 8),
      Event::TimerFired("wait-2", 9),      Event::Stop("Stopped", "by user", 10),
  };
  for (const Event& e : events) {
    auto back = Event::FromJson(e.ToJson());
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->ToJson(), e.ToJson());
    EXPECT_EQ(back->type, e.type);
    EXPECT_EQ(back->at, e.at);
  }
  EXPECT_FALSE(Event::FromJson(J(R"({"type": "Nope", "at": 1})")).ok());
  EXPECT_FALSE(Event::FromJson(J(R"({"type": "TaskFailed", "at": 1})")).ok());
  EXPECT_FALSE(Event::FromJson(J(R"([1])")).ok());
}

TEST(InterpreterEvents, StatusNames) {
  EXPECT_EQ(ExecutionStatusName(Status::kSucceeded), "SUCCEEDED");
  EXPECT_EQ(ExecutionStatusName(Status::kFailed), "FAILED");
  EXPECT_EQ(ExecutionStatusName(Status::kTimedOut), "TIMED_OUT");
  EXPECT_EQ(ExecutionStatusName(Status::kAborted), "ABORTED");
}

TEST(InterpreterEvents, IgnoresEventsBeforeStartAfterEndAndDuplicates) {
  auto def = Def(R"({"StartAt": "T", "States": {
    "T": {"Type": "Task", "Resource": "arn:r", "End": true}}})");
  Driver d(def);
  const Value empty = Dump(Transition{});
  EXPECT_EQ(Dump(d.Feed(Event::TaskSucceeded("1", J("1"), kT0))), empty);
  d.Start(J("{}"));
  EXPECT_EQ(Dump(d.Feed(Event::Start(J("{}"), kT0))), empty);                // second start
  EXPECT_EQ(Dump(d.Feed(Event::TaskSucceeded("2", J("1"), kT0))), empty);    // unknown
  EXPECT_EQ(Dump(d.Feed(Event::TaskSucceeded("abc", J("1"), kT0))), empty);  // malformed
  const Transition& end = d.Succeed("1", J(R"("out")"));
  ASSERT_TRUE(end.result.has_value());
  EXPECT_TRUE(d.exec_.finished());
  EXPECT_EQ(Dump(d.Feed(Event::TaskSucceeded("1", J("1"), kT0))), empty);  // duplicate
  EXPECT_EQ(Dump(d.Feed(Event::Stop("", "", kT0))), empty);                // after the end
}

TEST(InterpreterEvents, MissingInputIsAnEmptyObject) {
  auto r = RunMachine(PassMachine(""), Value());
  EXPECT_EQ(r.output, J("{}"));
}

TEST(InterpreterLimits, PayloadsAboveTheLimitFailUncatchably) {
  std::string big(300 * 1024, 'x');
  // Execution input.
  auto r = RunMachine(PassMachine(""), Value{{"big", big}});
  EXPECT_EQ(r.error, "States.DataLimitExceeded");
  // A task result, even with a catch-all.
  r = RunMachine(R"({"StartAt": "T", "States": {
      "T": {"Type": "Task", "Resource": "arn:r", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}]},
      "C": {"Type": "Succeed"}}})",
                 J("{}"), [&](const StartTask&) {
                   return Answer::Ok(Value{{"big", big}});
                 });
  EXPECT_EQ(r.status, Status::kFailed);
  EXPECT_EQ(r.error, "States.DataLimitExceeded");
  // A state output built from smaller pieces.
  std::string half(150 * 1024, 'y');
  r = RunMachine(PassMachine(R"("Parameters": {"a.$": "$.h", "b.$": "$.h"})"), Value{{"h", half}});
  EXPECT_EQ(r.error, "States.DataLimitExceeded");
  // No limit when disabled.
  ExecutionOptions opts;
  opts.max_payload_bytes = 0;
  r = RunMachine(PassMachine(""), Value{{"big", big}}, nullptr, opts);
  EXPECT_EQ(r.status, Status::kSucceeded);
}

}  // namespace
}  // namespace sluice::asl
