// Tests of ParseDefinition: the model it builds, one table row per validation rule (exact
// location, message, and no spurious extra errors), all problems reported at once, and two
// real-world machines (the PAVI pipeline of seed 002, a GWAS workflow after seed 004).
#include "asl/definition.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace sluice::asl {
namespace {

// A machine whose States block is `states`, starting at `start`.
std::string Machine(const std::string& states, const std::string& start = "A") {
  return R"({"StartAt": ")" + start + R"(", "States": {)" + states + "}}";
}

std::vector<Problem> ErrorsOf(const std::vector<Problem>& problems) {
  std::vector<Problem> errors;
  for (const Problem& p : problems) {
    if (!p.warning) errors.push_back(p);
  }
  return errors;
}

std::string Dump(const std::vector<Problem>& problems) {
  std::string out;
  for (const Problem& p : problems)
    out += (p.warning ? "  warning " : "  error ") + p.ToString() + "\n";
  return out;
}

struct Case {
  const char* name;
  std::string definition;
  std::string location;  // exact
  std::string message;   // substring of the message
  size_t errors = 1;     // how many errors the definition has in total
};

// Each case must be refused, with an error at exactly `location` whose message contains
// `message`, and with no other errors than the ones counted.
void RunCases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<Problem> problems;
    auto result = ParseDefinition(c.definition, &problems);
    ASSERT_FALSE(result.ok()) << c.definition;
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
    std::vector<Problem> errors = ErrorsOf(problems);
    bool found = false;
    for (const Problem& p : errors) {
      if (p.location == c.location && p.message.find(c.message) != std::string::npos) {
        found = true;
      }
    }
    EXPECT_TRUE(found) << "want " << c.location << ": ..." << c.message << "...\ngot:\n"
                       << Dump(problems);
    EXPECT_EQ(errors.size(), c.errors) << Dump(problems);
    // The Status message names the problem too.
    std::string line = c.location.empty() ? c.message : c.location + ": ";
    EXPECT_NE(result.status().message().find(line), std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------
// The model

TEST(ParseDefinition, MinimalMachineBuildsModel) {
  auto result = ParseDefinition(R"({
    "Comment": "hello", "TimeoutSeconds": 300,
    "StartAt": "A",
    "States": {
      "A": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r", "Next": "B"},
      "B": {"Type": "Succeed", "InputPath": null}
    }})");
  ASSERT_TRUE(result.ok()) << result.status().message();
  const Definition& def = **result;
  EXPECT_EQ(def.comment, "hello");
  EXPECT_EQ(def.version, "1.0");
  EXPECT_EQ(def.timeout_seconds, 300);
  EXPECT_TRUE(def.warnings.empty());
  const StateMachine& m = def.machine;
  ASSERT_EQ(m.states.size(), 2u);
  EXPECT_EQ(m.start(), m.states[0].get());
  const State& a = *m.states[0];
  EXPECT_EQ(a.name, "A");
  EXPECT_EQ(a.location, "States.A");
  EXPECT_EQ(a.type, StateType::kPass);
  EXPECT_EQ(a.next, "B");
  EXPECT_FALSE(a.end);
  ASSERT_TRUE(a.result.has_value());
  EXPECT_EQ(*a.result, Value::parse(R"({"x": 1})"));
  EXPECT_EQ(a.result_path.kind, OptionalPath::Kind::kSet);
  EXPECT_EQ(a.result_path.path.text(), "$.r");
  EXPECT_EQ(a.input_path.kind, OptionalPath::Kind::kAbsent);
  const State& b = *m.Find("B");
  EXPECT_EQ(b.type, StateType::kSucceed);
  EXPECT_EQ(b.input_path.kind, OptionalPath::Kind::kNull);
  EXPECT_EQ(m.Find("C"), nullptr);
}

TEST(ParseDefinition, TaskFieldsAndRetryDefaults) {
  auto result = ParseDefinition(Machine(R"(
    "A": {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync",
          "TimeoutSeconds": 3600, "HeartbeatSecondsPath": "$.hb",
          "Parameters": {"JobName": "j"}, "ResultSelector": {"id.$": "$.JobId"},
          "Retry": [{"ErrorEquals": ["Batch.AWSBatchException"]},
                    {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "MaxAttempts": 0,
                     "BackoffRate": 1.5, "MaxDelaySeconds": 30, "JitterStrategy": "FULL"}],
          "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": null, "Next": "B"},
                    {"ErrorEquals": ["States.ALL"], "Next": "B"}],
          "End": true},
    "B": {"Type": "Fail"})"));
  ASSERT_TRUE(result.ok()) << result.status().message();
  const State& a = *(*result)->machine.Find("A");
  EXPECT_EQ(a.resource, "arn:aws:states:::batch:submitJob.sync");
  EXPECT_TRUE(a.end);
  EXPECT_EQ(a.timeout_seconds.literal, 3600);
  EXPECT_FALSE(a.timeout_seconds.path.has_value());
  EXPECT_FALSE(a.heartbeat_seconds.literal.has_value());
  ASSERT_TRUE(a.heartbeat_seconds.path.has_value());
  EXPECT_EQ(a.heartbeat_seconds.path->text(), "$.hb");
  EXPECT_TRUE(a.parameters.has_value());
  EXPECT_TRUE(a.result_selector.has_value());
  ASSERT_EQ(a.retry.size(), 2u);
  // Spec defaults: IntervalSeconds 1, MaxAttempts 3, BackoffRate 2.0, no cap, no jitter.
  EXPECT_EQ(a.retry[0].error_equals, std::vector<std::string>{"Batch.AWSBatchException"});
  EXPECT_EQ(a.retry[0].interval_seconds, 1);
  EXPECT_EQ(a.retry[0].max_attempts, 3);
  EXPECT_EQ(a.retry[0].backoff_rate, 2.0);
  EXPECT_FALSE(a.retry[0].max_delay_seconds.has_value());
  EXPECT_FALSE(a.retry[0].jitter_full);
  EXPECT_EQ(a.retry[1].interval_seconds, 5);
  EXPECT_EQ(a.retry[1].max_attempts, 0);
  EXPECT_EQ(a.retry[1].backoff_rate, 1.5);
  EXPECT_EQ(a.retry[1].max_delay_seconds, 30);
  EXPECT_TRUE(a.retry[1].jitter_full);
  ASSERT_EQ(a.catchers.size(), 2u);
  EXPECT_EQ(a.catchers[0].next, "B");
  EXPECT_EQ(a.catchers[0].result_path.kind, OptionalPath::Kind::kNull);
  EXPECT_EQ(a.catchers[1].result_path.kind, OptionalPath::Kind::kAbsent);
}

TEST(ParseDefinition, ChoiceRulesBuildTree) {
  auto result = ParseDefinition(Machine(R"(
    "A": {"Type": "Choice", "Default": "D", "Choices": [
      {"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.limit", "Next": "D"},
      {"Not": {"Variable": "$.s", "StringMatches": "log-*.txt"}, "Next": "D"},
      {"And": [{"Variable": "$.b", "BooleanEquals": true},
               {"Variable": "$.t", "IsTimestamp": false}], "Next": "D"}]},
    "D": {"Type": "Succeed"})"));
  ASSERT_TRUE(result.ok()) << result.status().message();
  const State& a = *(*result)->machine.Find("A");
  EXPECT_EQ(a.default_next, "D");
  ASSERT_EQ(a.choices.size(), 3u);
  const ChoiceRule& r0 = a.choices[0];
  EXPECT_EQ(r0.op, ChoiceRule::Op::kNumericGreaterThanEquals);
  EXPECT_TRUE(r0.operand_is_path);
  EXPECT_EQ(r0.variable.text(), "$.n");
  EXPECT_EQ(r0.operand_path.text(), "$.limit");
  EXPECT_EQ(r0.next, "D");
  const ChoiceRule& r1 = a.choices[1];
  EXPECT_EQ(r1.op, ChoiceRule::Op::kNot);
  ASSERT_EQ(r1.children.size(), 1u);
  EXPECT_EQ(r1.children[0].op, ChoiceRule::Op::kStringMatches);
  EXPECT_EQ(r1.children[0].operand, "log-*.txt");
  EXPECT_TRUE(r1.children[0].next.empty());
  const ChoiceRule& r2 = a.choices[2];
  EXPECT_EQ(r2.op, ChoiceRule::Op::kAnd);
  ASSERT_EQ(r2.children.size(), 2u);
  EXPECT_EQ(r2.children[0].op, ChoiceRule::Op::kBooleanEquals);
  EXPECT_EQ(r2.children[0].operand, true);
  EXPECT_FALSE(r2.children[0].operand_is_path);
  EXPECT_EQ(r2.children[1].op, ChoiceRule::Op::kIsTimestamp);
  EXPECT_EQ(r2.children[1].operand, false);
}

TEST(ParseDefinition, WaitAndFailVariants) {
  auto result = ParseDefinition(Machine(R"x(
    "A": {"Type": "Wait", "Seconds": 0, "Next": "B"},
    "B": {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00.5+02:00", "Next": "C"},
    "C": {"Type": "Wait", "TimestampPath": "$$.Execution.Input.at", "Next": "F"},
    "F": {"Type": "Fail", "Error": "My.Error", "CausePath": "States.Format('n={}', $.n)"})x"));
  ASSERT_TRUE(result.ok()) << result.status().message();
  const StateMachine& m = (*result)->machine;
  EXPECT_EQ(m.Find("A")->seconds, 0.0);
  EXPECT_EQ(m.Find("B")->timestamp, "2016-03-14T01:59:00.5+02:00");
  ASSERT_TRUE(m.Find("C")->timestamp_path.has_value());
  EXPECT_TRUE(m.Find("C")->timestamp_path->IsContext());
  const State& f = *m.Find("F");
  EXPECT_EQ(f.error, "My.Error");
  EXPECT_FALSE(f.cause.has_value());
  EXPECT_TRUE(f.cause_path.intrinsic.has_value());
  EXPECT_FALSE(f.cause_path.path.has_value());
  EXPECT_FALSE(f.error_path.path.has_value());
}

TEST(ParseDefinition, ParallelAndMapNestedMachines) {
  auto result = ParseDefinition(Machine(R"(
    "A": {"Type": "Parallel", "Next": "M", "Branches": [
      {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": true}}},
      {"StartAt": "B2", "States": {"B2": {"Type": "Succeed"}}}]},
    "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
          "ToleratedFailurePercentage": 12.5, "ToleratedFailureCountPath": "$.n",
          "Parameters": {"v.$": "$$.Map.Item.Value"},
          "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
          "End": true})"));
  ASSERT_TRUE(result.ok()) << result.status().message();
  const StateMachine& m = (*result)->machine;
  const State& p = *m.Find("A");
  ASSERT_EQ(p.branches.size(), 2u);
  EXPECT_EQ(p.branches[1]->start_at, "B2");
  EXPECT_EQ(p.branches[1]->states[0]->location, "States.A.Branches[1].States.B2");
  EXPECT_EQ(m.Find("B1"), nullptr);  // nested names live in their own block
  const State& map = *m.Find("M");
  ASSERT_NE(map.processor, nullptr);
  EXPECT_EQ(map.processor->start()->location, "States.M.Iterator.States.I");
  EXPECT_TRUE(map.item_selector.has_value());  // from the legacy Parameters
  EXPECT_FALSE(map.parameters.has_value());
  EXPECT_EQ(map.items_path.kind, OptionalPath::Kind::kSet);
  EXPECT_EQ(map.max_concurrency.literal, 1);
  EXPECT_EQ(map.tolerated_failure_percentage.literal, 12.5);
  EXPECT_TRUE(map.tolerated_failure_count.path.has_value());
}

TEST(StateTypeName, NamesEveryType) {
  EXPECT_EQ(StateTypeName(StateType::kPass), "Pass");
  EXPECT_EQ(StateTypeName(StateType::kTask), "Task");
  EXPECT_EQ(StateTypeName(StateType::kChoice), "Choice");
  EXPECT_EQ(StateTypeName(StateType::kWait), "Wait");
  EXPECT_EQ(StateTypeName(StateType::kSucceed), "Succeed");
  EXPECT_EQ(StateTypeName(StateType::kFail), "Fail");
  EXPECT_EQ(StateTypeName(StateType::kParallel), "Parallel");
  EXPECT_EQ(StateTypeName(StateType::kMap), "Map");
}

// ---------------------------------------------------------------------------------------
// One rule per row

const char kEnd[] = R"("Z": {"Type": "Succeed"})";

TEST(DefinitionRules, JsonAndMachineLevel) {
  // Levels: the machine, States, A, then the arrays of Result; the 257th level is the array
  // at Result[0][0]... (253 indexes).
  std::string deep_location = "States.A.Result";
  for (int i = 0; i < 253; ++i) deep_location += "[0]";
  RunCases({
      {"syntax error names the byte", R"({"StartAt": })", "", "byte 13"},
      {"empty text", "", "", "not valid JSON"},
      {"not an object", "[1, 2]", "", "must be a JSON object"},
      {"nesting too deep",
       Machine(R"("A": {"Type": "Pass", "End": true, "Result": )" + std::string(300, '[') +
               std::string(300, ']') + "}"),
       deep_location, "nested more than 256 levels deep"},
      {"duplicate state key", R"({"StartAt": "A", "States": {"A": {"Type": "Succeed"},
         "A": {"Type": "Succeed"}}})",
       "States.A", "more than once"},
      {"duplicate key inside a branch array",
       Machine(R"("A": {"Type": "Parallel", "End": true, "Branches": [
         {"StartAt": "B", "States": {"B": {"Type": "Succeed"}}},
         {"StartAt": "C", "StartAt": "C", "States": {"C": {"Type": "Succeed"}}}]})"),
       "States.A.Branches[1].StartAt", "more than once"},
      {"StartAt missing", R"({"States": {"A": {"Type": "Succeed"}}})", "StartAt",
       "required field is missing"},
      {"StartAt unknown", Machine(R"("A": {"Type": "Succeed"})", "B"), "StartAt",
       "no state named \"B\""},
      {"StartAt not a string", R"({"StartAt": 1, "States": {"A": {"Type": "Succeed"}}})", "StartAt",
       "must be a string"},
      {"States missing", R"({"StartAt": "A"})", "States", "required field is missing"},
      {"States empty", R"({"StartAt": "A", "States": {}})", "States", "at least one state"},
      {"unknown top-level field",
       R"({"StartAt": "A", "Foo": 1, "States": {"A": {"Type": "Succeed"}}})", "Foo",
       "field not allowed in a state machine"},
      {"TimeoutSeconds zero",
       R"({"StartAt": "A", "TimeoutSeconds": 0, "States": {"A": {"Type": "Succeed"}}})",
       "TimeoutSeconds", "must be a positive integer, got 0"},
      {"TimeoutSeconds fractional",
       R"({"StartAt": "A", "TimeoutSeconds": 1.5, "States": {"A": {"Type": "Succeed"}}})",
       "TimeoutSeconds", "must be a positive integer, got 1.5"},
      {"Version not a string",
       R"({"StartAt": "A", "Version": 1, "States": {"A": {"Type": "Succeed"}}})", "Version",
       "must be a string"},
      {"JSONata machine",
       R"({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}})",
       "QueryLanguage", "JSONata state machines are not supported"},
      {"unknown query language",
       R"({"QueryLanguage": "XPath", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}})",
       "QueryLanguage", "must be \"JSONPath\" or \"JSONata\""},
  });
}

TEST(DefinitionRules, StatesAndTransitions) {
  std::string long_name(81, 'x');
  RunCases({
      {"state not an object", Machine(R"("A": 3)"), "States.A", "must be a JSON object"},
      {"Type missing", Machine(R"("A": {"End": true})"), "States.A.Type",
       "required field is missing"},
      {"Type unknown", Machine(R"("A": {"Type": "Passs", "End": true})"), "States.A.Type",
       "unknown state type \"Passs\""},
      {"field of another type", Machine(R"("A": {"Type": "Pass", "Resource": "x", "End": true})"),
       "States.A.Resource", "field not allowed in a Pass state"},
      {"misspelled field gets a suggestion",
       Machine(R"("A": {"Type": "Pass", "Nxt": "Z"}, )" + std::string(kEnd)), "States.A.Nxt",
       "did you mean \"Next\"?", 2},
      {"Next and End",
       Machine(R"("A": {"Type": "Pass", "Next": "Z", "End": true}, )" + std::string(kEnd)),
       "States.A", "has both Next and \"End\": true"},
      {"neither Next nor End", Machine(R"("A": {"Type": "Pass"})"), "States.A",
       "needs Next or \"End\": true"},
      {"End false without Next", Machine(R"("A": {"Type": "Pass", "End": false})"), "States.A.End",
       "is false and there is no Next"},
      {"End not boolean", Machine(R"("A": {"Type": "Pass", "End": "yes"})"), "States.A.End",
       "must be true or false"},
      {"Next to a missing state", Machine(R"("Align": {"Type": "Pass", "Next": "Algn"})", "Align"),
       "States.Align.Next", "no state named \"Algn\""},
      {"Next empty", Machine(R"("A": {"Type": "Pass", "Next": ""})"), "States.A.Next",
       "must name a state"},
      {"Next on Succeed", Machine(R"("A": {"Type": "Succeed", "Next": "A"})"), "States.A.Next",
       "field not allowed in a Succeed state"},
      {"End on Choice",
       Machine(R"("A": {"Type": "Choice", "End": true, "Choices": [
         {"Variable": "$.x", "IsNull": true, "Next": "Z"}]}, )" +
               std::string(kEnd)),
       "States.A.End", "field not allowed in a Choice state"},
      {"End on Fail", Machine(R"("A": {"Type": "Fail", "End": true})"), "States.A.End",
       "field not allowed in a Fail state"},
      {"InputPath on Fail", Machine(R"("A": {"Type": "Fail", "InputPath": "$"})"),
       "States.A.InputPath", "field not allowed in a Fail state"},
      {"Retry on Pass", Machine(R"("A": {"Type": "Pass", "End": true, "Retry": []})"),
       "States.A.Retry", "field not allowed in a Pass state"},
      {"ResultSelector on Pass",
       Machine(R"("A": {"Type": "Pass", "End": true, "ResultSelector": {}})"),
       "States.A.ResultSelector", "field not allowed in a Pass state"},
      {"Assign refused", Machine(R"("A": {"Type": "Pass", "End": true, "Assign": {"x": 1}})"),
       "States.A.Assign", "variables (Assign) are not supported"},
      {"JSONata field refused",
       Machine(R"("A": {"Type": "Pass", "End": true, "Output": {"x": 1}})"), "States.A.Output",
       "JSONata field"},
      {"JSONata state refused",
       Machine(R"("A": {"Type": "Pass", "End": true, "QueryLanguage": "JSONata"})"),
       "States.A.QueryLanguage", "JSONata state machines are not supported"},
      {"Comment not a string", Machine(R"("A": {"Type": "Succeed", "Comment": 1})"),
       "States.A.Comment", "must be a string"},
      {"name longer than 80", Machine(R"(")" + long_name + R"(": {"Type": "Succeed"})", long_name),
       "States." + long_name, "81 characters long; the limit is 80"},
      {"name unique across branches",
       Machine(R"("A": {"Type": "Parallel", "End": true, "Branches": [
         {"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}]})"),
       "States.A.Branches[0].States.A", "state name \"A\" is already used at States.A"},
      {"name unique across Map processors",
       Machine(R"("A": {"Type": "Map", "Next": "Z", "ItemProcessor": {
         "StartAt": "Z", "States": {"Z": {"Type": "Succeed"}}}}, )" +
               std::string(kEnd)),
       "States.Z", "is already used at States.A.ItemProcessor.States.Z"},
      {"no transition into a branch",
       Machine(R"("A": {"Type": "Parallel", "Next": "B1", "Branches": [
         {"StartAt": "B1", "States": {"B1": {"Type": "Succeed"}}}]})"),
       "States.A.Next", "\"B1\" is in another States block (States.A.Branches[0].States.B1)"},
      {"no transition out of a branch",
       Machine(R"("A": {"Type": "Parallel", "Next": "Z", "Branches": [
         {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Next": "Z"}}}]}, )" +
               std::string(kEnd)),
       "States.A.Branches[0].States.B1.Next", "is in another States block (States.Z)"},
      {"InputPath not a path", Machine(R"("A": {"Type": "Pass", "End": true, "InputPath": "a.b"})"),
       "States.A.InputPath", "invalid path"},
      {"OutputPath not a string", Machine(R"("A": {"Type": "Pass", "End": true, "OutputPath": 3})"),
       "States.A.OutputPath", "must be a path"},
      {"ResultPath must be a reference path",
       Machine(R"("A": {"Type": "Pass", "End": true, "ResultPath": "$.a[*]"})"),
       "States.A.ResultPath", "invalid reference path"},
      {"ResultPath may not write the context",
       Machine(R"("A": {"Type": "Pass", "End": true, "ResultPath": "$$.Execution"})"),
       "States.A.ResultPath", "$$"},
      {"Parameters must be an object",
       Machine(R"("A": {"Type": "Pass", "End": true, "Parameters": [1]})"), "States.A.Parameters",
       "must be a JSON object"},
  });
}

TEST(DefinitionRules, Task) {
  auto task = [](const std::string& fields) {
    return Machine(R"("T": {"Type": "Task", "End": true, )" + fields + "}, " + kEnd, "T");
  };
  const std::string kRes = R"("Resource": "arn:aws:states:::lambda:invoke")";
  RunCases({
      {"Resource missing", task(R"("Comment": "x")"), "States.T.Resource",
       "required field is missing"},
      {"Resource not a string", task(R"("Resource": 5)"), "States.T.Resource", "must be a string"},
      {"Resource empty", task(R"("Resource": "")"), "States.T.Resource", "must not be empty"},
      {"callback pattern refused",
       task(R"("Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken")"),
       "States.T.Resource", ".waitForTaskToken) is not supported"},
      {"TimeoutSeconds zero", task(kRes + R"(, "TimeoutSeconds": 0)"), "States.T.TimeoutSeconds",
       "must be a positive integer, got 0"},
      {"TimeoutSeconds string", task(kRes + R"(, "TimeoutSeconds": "60")"),
       "States.T.TimeoutSeconds", "must be a positive integer, got \"60\""},
      {"TimeoutSeconds and Path",
       task(kRes + R"(, "TimeoutSeconds": 5, "TimeoutSecondsPath": "$.t")"), "States.T",
       "TimeoutSeconds and TimeoutSecondsPath cannot both be set"},
      {"TimeoutSecondsPath reference path", task(kRes + R"(, "TimeoutSecondsPath": "$.t[0:1]")"),
       "States.T.TimeoutSecondsPath", "invalid reference path"},
      {"HeartbeatSeconds not below TimeoutSeconds",
       task(kRes + R"(, "TimeoutSeconds": 10, "HeartbeatSeconds": 10)"),
       "States.T.HeartbeatSeconds", "must be less than TimeoutSeconds (10), got 10"},
      {"HeartbeatSeconds negative", task(kRes + R"(, "HeartbeatSeconds": -1)"),
       "States.T.HeartbeatSeconds", "must be a positive integer"},
      {"HeartbeatSeconds and Path",
       task(kRes + R"(, "HeartbeatSeconds": 5, "HeartbeatSecondsPath": "$.h")"), "States.T",
       "HeartbeatSeconds and HeartbeatSecondsPath cannot both be set"},
      {"Credentials must be an object", task(kRes + R"(, "Credentials": "role")"),
       "States.T.Credentials", "must be a JSON object"},
      {"ResultSelector must be an object", task(kRes + R"(, "ResultSelector": 1)"),
       "States.T.ResultSelector", "must be a JSON object"},
  });
}

TEST(DefinitionRules, RetryAndCatch) {
  auto task = [](const std::string& fields) {
    return Machine(
        R"("T": {"Type": "Task", "Resource": "r", "End": true, )" + fields + "}, " + kEnd, "T");
  };
  RunCases({
      {"Retry not an array", task(R"("Retry": {})"), "States.T.Retry", "must be an array"},
      {"retrier not an object", task(R"("Retry": [1])"), "States.T.Retry[0]",
       "a retrier must be an object"},
      {"ErrorEquals missing", task(R"("Retry": [{"MaxAttempts": 1}])"),
       "States.T.Retry[0].ErrorEquals", "required field is missing"},
      {"ErrorEquals empty", task(R"("Retry": [{"ErrorEquals": []}])"),
       "States.T.Retry[0].ErrorEquals", "must be a non-empty array"},
      {"ErrorEquals element not a string", task(R"("Retry": [{"ErrorEquals": ["A", 42]}])"),
       "States.T.Retry[0].ErrorEquals[1]", "must be a string"},
      {"reserved prefix", task(R"("Retry": [{"ErrorEquals": ["States.Timeoutt"]}])"),
       "States.T.Retry[0].ErrorEquals[0]", "unknown predefined error \"States.Timeoutt\""},
      {"States.ALL not alone",
       task(R"("Retry": [{"ErrorEquals": ["States.ALL", "States.Timeout"]}])"),
       "States.T.Retry[0].ErrorEquals", "States.ALL must be the only error name"},
      {"States.ALL not in the last retrier",
       task(R"("Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}])"),
       "States.T.Retry[0].ErrorEquals", "States.ALL must be in the last retrier"},
      {"IntervalSeconds zero", task(R"("Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0}])"),
       "States.T.Retry[0].IntervalSeconds", "must be a positive integer, got 0"},
      {"IntervalSeconds fractional",
       task(R"("Retry": [{"ErrorEquals": ["X"], "IntervalSeconds": 0.5}])"),
       "States.T.Retry[0].IntervalSeconds", "must be a positive integer, got 0.5"},
      {"MaxAttempts negative", task(R"("Retry": [{"ErrorEquals": ["X"], "MaxAttempts": -1}])"),
       "States.T.Retry[0].MaxAttempts", "must be a non-negative integer, got -1"},
      {"BackoffRate below one", task(R"("Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0.5}])"),
       "States.T.Retry[0].BackoffRate", "must be >= 1.0, got 0.5"},
      {"BackoffRate string", task(R"("Retry": [{"ErrorEquals": ["X"], "BackoffRate": "2"}])"),
       "States.T.Retry[0].BackoffRate", "must be >= 1.0, got \"2\""},
      {"MaxAttempts above the AWS limit",
       task(R"("Retry": [{"ErrorEquals": ["X"], "MaxAttempts": 100000000}])"),
       "States.T.Retry[0].MaxAttempts", "must be at most 99999999, got 100000000"},
      {"MaxDelaySeconds above the AWS limit",
       task(R"("Retry": [{"ErrorEquals": ["X"], "MaxDelaySeconds": 31622401}])"),
       "States.T.Retry[0].MaxDelaySeconds", "must be at most 31622400"},
      {"MaxDelaySeconds zero", task(R"("Retry": [{"ErrorEquals": ["X"], "MaxDelaySeconds": 0}])"),
       "States.T.Retry[0].MaxDelaySeconds", "must be a positive integer, got 0"},
      {"JitterStrategy unknown",
       task(R"("Retry": [{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}])"),
       "States.T.Retry[0].JitterStrategy", "must be \"FULL\" or \"NONE\""},
      {"retrier field misspelled", task(R"("Retry": [{"ErrorEquals": ["X"], "MaxAttempt": 2}])"),
       "States.T.Retry[0].MaxAttempt", "did you mean \"MaxAttempts\"?"},
      {"Catch not an array", task(R"("Catch": "Z")"), "States.T.Catch", "must be an array"},
      {"catcher Next missing", task(R"("Catch": [{"ErrorEquals": ["X"]}])"),
       "States.T.Catch[0].Next", "required field is missing"},
      {"catcher Next unknown", task(R"("Catch": [{"ErrorEquals": ["X"], "Next": "Q"}])"),
       "States.T.Catch[0].Next", "no state named \"Q\""},
      {"catcher ResultPath reference path",
       task(R"("Catch": [{"ErrorEquals": ["X"], "Next": "Z", "ResultPath": "$..e"}])"),
       "States.T.Catch[0].ResultPath", "invalid reference path"},
      {"States.ALL not in the last catcher",
       task(R"("Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Z"},
                         {"ErrorEquals": ["X"], "Next": "Z"}])"),
       "States.T.Catch[0].ErrorEquals", "States.ALL must be in the last catcher"},
      {"catcher Assign refused",
       task(R"("Catch": [{"ErrorEquals": ["X"], "Next": "Z", "Assign": {}}])"),
       "States.T.Catch[0].Assign", "variables (Assign) are not supported"},
  });
}

TEST(DefinitionRules, Choice) {
  // A Choice state "C" with one rule; its Next and Default go to "N".
  auto choice = [](const std::string& rule) {
    return Machine(R"("C": {"Type": "Choice", "Default": "N", "Choices": [)" + rule +
                       R"(]}, "N": {"Type": "Succeed"})",
                   "C");
  };
  RunCases({
      {"Choices missing",
       Machine(R"("C": {"Type": "Choice", "Default": "N"},
                                    "N": {"Type": "Succeed"})",
               "C"),
       "States.C.Choices", "required field is missing"},
      {"Choices empty", choice(""), "States.C.Choices", "must be a non-empty array"},
      {"rule not an object", choice("1"), "States.C.Choices[0]", "a Choice rule must be an object"},
      {"top-level rule needs Next", choice(R"({"Variable": "$.x", "IsNull": true})"),
       "States.C.Choices[0].Next", "required field is missing"},
      {"no operator", choice(R"({"Variable": "$.x", "Next": "N"})"), "States.C.Choices[0]",
       "no comparison operator"},
      {"two operators",
       choice(R"({"Variable": "$.x", "StringEquals": "a", "NumericEquals": 1, "Next": "N"})"),
       "States.C.Choices[0]", "more than one comparison operator (StringEquals, NumericEquals)"},
      {"Variable missing", choice(R"({"StringEquals": "a", "Next": "N"})"),
       "States.C.Choices[0].Variable", "required field is missing"},
      {"Variable not a path", choice(R"({"Variable": "x", "IsNull": true, "Next": "N"})"),
       "States.C.Choices[0].Variable", "invalid path"},
      {"StringEquals number", choice(R"({"Variable": "$.x", "StringEquals": 1, "Next": "N"})"),
       "States.C.Choices[0].StringEquals", "must be a string, got 1"},
      {"NumericLessThan string",
       choice(R"({"Variable": "$.x", "NumericLessThan": "5", "Next": "N"})"),
       "States.C.Choices[0].NumericLessThan", "must be a number, got \"5\""},
      {"BooleanEquals string",
       choice(R"({"Variable": "$.x", "BooleanEquals": "true", "Next": "N"})"),
       "States.C.Choices[0].BooleanEquals", "must be true or false"},
      {"TimestampEquals not RFC 3339",
       choice(R"({"Variable": "$.x", "TimestampEquals": "2016-03-14", "Next": "N"})"),
       "States.C.Choices[0].TimestampEquals", "must be an RFC 3339 timestamp"},
      {"IsPresent string", choice(R"({"Variable": "$.x", "IsPresent": "yes", "Next": "N"})"),
       "States.C.Choices[0].IsPresent", "must be true or false"},
      {"StringMatches lone backslash",
       choice(R"({"Variable": "$.x", "StringMatches": "a\\b", "Next": "N"})"),
       "States.C.Choices[0].StringMatches", "a backslash must be followed by * or \\"},
      {"Path operand compiled",
       choice(R"({"Variable": "$.x", "StringEqualsPath": "nope", "Next": "N"})"),
       "States.C.Choices[0].StringEqualsPath", "invalid path"},
      {"Path operand not a string",
       choice(R"({"Variable": "$.x", "NumericEqualsPath": 3, "Next": "N"})"),
       "States.C.Choices[0].NumericEqualsPath", "must be a path"},
      {"unknown operator", choice(R"({"Variable": "$.x", "StringEqual": "a", "Next": "N"})"),
       "States.C.Choices[0].StringEqual", "did you mean \"StringEquals\"?", 2},
      {"no Path form of IsNull",
       choice(R"({"Variable": "$.x", "IsNull": true, "IsNullPath": "$.y", "Next": "N"})"),
       "States.C.Choices[0].IsNullPath", "field not allowed in a Choice rule"},
      {"And empty", choice(R"({"And": [], "Next": "N"})"), "States.C.Choices[0].And",
       "must be a non-empty array of rules"},
      {"Or not an array", choice(R"({"Or": {"Variable": "$.x", "IsNull": true}, "Next": "N"})"),
       "States.C.Choices[0].Or", "must be a non-empty array of rules"},
      {"Not takes one rule",
       choice(R"({"Not": [{"Variable": "$.x", "IsNull": true}], "Next": "N"})"),
       "States.C.Choices[0].Not", "a Choice rule must be an object"},
      {"nested rule has no Next",
       choice(R"({"And": [{"Variable": "$.x", "IsNull": true, "Next": "N"}], "Next": "N"})"),
       "States.C.Choices[0].And[0].Next", "not allowed in a nested rule"},
      {"Variable on a boolean rule",
       choice(R"({"Variable": "$.x", "And": [{"Variable": "$.x", "IsNull": true}],
                  "Next": "N"})"),
       "States.C.Choices[0].Variable", "not allowed in an And rule"},
      {"deeply nested operand", choice(R"({"Not": {"Or": [{"Variable": "$.a", "IsNull": true},
                                 {"Variable": "$.b", "NumericEquals": "1"}]}, "Next": "N"})"),
       "States.C.Choices[0].Not.Or[1].NumericEquals", "must be a number"},
      {"rule Next unknown", choice(R"({"Variable": "$.x", "IsNull": true, "Next": "Q"})"),
       "States.C.Choices[0].Next", "no state named \"Q\""},
      {"Default unknown",
       Machine(R"("C": {"Type": "Choice", "Default": "Q", "Choices": [
         {"Variable": "$.x", "IsNull": true, "Next": "N"}]}, "N": {"Type": "Succeed"})",
               "C"),
       "States.C.Default", "no state named \"Q\""},
  });
}

TEST(DefinitionRules, Wait) {
  auto wait = [](const std::string& fields) {
    return Machine(R"("W": {"Type": "Wait", "End": true)" + fields + "}", "W");
  };
  RunCases({
      {"no duration", wait(""), "States.W",
       "needs one of Seconds, SecondsPath, Timestamp or TimestampPath"},
      {"two durations", wait(R"(, "Seconds": 1, "Timestamp": "2016-03-14T01:59:00Z")"), "States.W",
       "exactly one of Seconds, SecondsPath, Timestamp or TimestampPath, got "
       "Seconds, Timestamp"},
      {"Seconds negative", wait(R"(, "Seconds": -1)"), "States.W.Seconds",
       "must be a non-negative integer, got -1"},
      {"Seconds fractional", wait(R"(, "Seconds": 1.5)"), "States.W.Seconds",
       "must be a non-negative integer, got 1.5"},
      {"Timestamp without zone", wait(R"(, "Timestamp": "2016-03-14T01:59:00")"),
       "States.W.Timestamp", "must be an RFC 3339 timestamp"},
      {"Timestamp lowercase t", wait(R"(, "Timestamp": "2016-03-14t01:59:00Z")"),
       "States.W.Timestamp", "must be an RFC 3339 timestamp"},
      {"Timestamp February 30", wait(R"(, "Timestamp": "2016-02-30T00:00:00Z")"),
       "States.W.Timestamp", "must be an RFC 3339 timestamp"},
      {"SecondsPath reference path", wait(R"(, "SecondsPath": "$.a[0:2]")"), "States.W.SecondsPath",
       "invalid reference path"},
      {"TimestampPath not a string", wait(R"(, "TimestampPath": 5)"), "States.W.TimestampPath",
       "must be a reference path"},
  });
}

TEST(DefinitionRules, Fail) {
  auto fail = [](const std::string& fields) {
    return Machine(R"("F": {"Type": "Fail")" + fields + "}", "F");
  };
  RunCases({
      {"Error and ErrorPath", fail(R"(, "Error": "E", "ErrorPath": "$.e")"), "States.F",
       "Error and ErrorPath cannot both be set"},
      {"Cause and CausePath", fail(R"(, "Cause": "c", "CausePath": "$.c")"), "States.F",
       "Cause and CausePath cannot both be set"},
      {"Error reserved prefix", fail(R"(, "Error": "States.Oops")"), "States.F.Error",
       "unknown predefined error \"States.Oops\""},
      {"Error wildcard", fail(R"(, "Error": "States.ALL")"), "States.F.Error",
       "States.ALL is a wildcard"},
      {"Error not a string", fail(R"(, "Error": 5)"), "States.F.Error", "must be a string"},
      {"ErrorPath neither path nor call", fail(R"(, "ErrorPath": "oops")"), "States.F.ErrorPath",
       "must be a reference path (\"$.field\") or an intrinsic function call"},
      {"CausePath reference path", fail(R"(, "CausePath": "$.c[*]")"), "States.F.CausePath",
       "invalid reference path"},
      {"CausePath bad intrinsic", fail(R"x(, "CausePath": "States.Formatt('x')")x"),
       "States.F.CausePath", "invalid intrinsic function call"},
      {"Retry on Fail", fail(R"(, "Retry": [])"), "States.F.Retry",
       "field not allowed in a Fail state"},
  });
}

TEST(DefinitionRules, Parallel) {
  auto parallel = [](const std::string& fields) {
    return Machine(R"("P": {"Type": "Parallel", "End": true)" + fields + "}", "P");
  };
  RunCases({
      {"Branches missing", parallel(""), "States.P.Branches", "required field is missing"},
      {"Branches empty", parallel(R"(, "Branches": [])"), "States.P.Branches",
       "must be a non-empty array"},
      {"branch not an object", parallel(R"(, "Branches": ["x"])"), "States.P.Branches[0]",
       "a branch must be an object"},
      {"branch StartAt missing",
       parallel(R"(, "Branches": [{"States": {"B": {"Type": "Succeed"}}}])"),
       "States.P.Branches[0].StartAt", "required field is missing"},
      {"branch StartAt unknown",
       parallel(R"(, "Branches": [{"StartAt": "X", "States": {"B": {"Type": "Succeed"}}}])"),
       "States.P.Branches[0].StartAt", "no state named \"X\""},
      {"branch unknown field", parallel(R"(, "Branches": [{"StartAt": "B", "Foo": 1,
                                   "States": {"B": {"Type": "Succeed"}}}])"),
       "States.P.Branches[0].Foo", "field not allowed in a Parallel branch"},
      {"error inside the second branch",
       parallel(R"(, "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}},
                                  {"StartAt": "C", "States": {"C": {"Type": "Pass", "Next": "D"}}}])"),
       "States.P.Branches[1].States.C.Next", "no state named \"D\""},
      {"Parallel Retry checked", parallel(R"(, "Branches": [{"StartAt": "B",
         "States": {"B": {"Type": "Succeed"}}}], "Retry": [{"ErrorEquals": ["X"], "BackoffRate": 0}])"),
       "States.P.Retry[0].BackoffRate", "must be >= 1.0, got 0"},
  });
}

TEST(DefinitionRules, Map) {
  const std::string kProc =
      R"("ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}})";
  auto map = [](const std::string& fields) {
    return Machine(R"("M": {"Type": "Map", "End": true, )" + fields + "}", "M");
  };
  RunCases({
      {"processor missing", map(R"("ItemsPath": "$.x")"), "States.M.ItemProcessor",
       "required field is missing"},
      {"ItemProcessor and Iterator",
       map(kProc + R"(, "Iterator": {"StartAt": "J", "States": {"J": {"Type": "Succeed"}}})"),
       "States.M", "ItemProcessor and Iterator (its older name) cannot both be set"},
      {"ItemSelector and Parameters", map(kProc + R"(, "ItemSelector": {}, "Parameters": {})"),
       "States.M", "ItemSelector and Parameters (its older name) cannot both be set"},
      {"processor StartAt unknown",
       map(R"("ItemProcessor": {"StartAt": "X", "States": {"I": {"Type": "Succeed"}}})"),
       "States.M.ItemProcessor.StartAt", "no state named \"X\""},
      {"legacy Iterator location",
       map(R"("Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass"}}})"),
       "States.M.Iterator.States.I", "needs Next or \"End\": true"},
      {"ItemsPath reference path", map(kProc + R"(, "ItemsPath": "$.items[*]")"),
       "States.M.ItemsPath", "invalid reference path"},
      {"MaxConcurrency negative", map(kProc + R"(, "MaxConcurrency": -1)"),
       "States.M.MaxConcurrency", "must be a non-negative integer, got -1"},
      {"MaxConcurrency and Path",
       map(kProc + R"(, "MaxConcurrency": 2, "MaxConcurrencyPath": "$.n")"), "States.M",
       "MaxConcurrency and MaxConcurrencyPath cannot both be set"},
      {"MaxConcurrencyPath reference path", map(kProc + R"(, "MaxConcurrencyPath": "$..n")"),
       "States.M.MaxConcurrencyPath", "invalid reference path"},
      {"ToleratedFailurePercentage above 100",
       map(kProc + R"(, "ToleratedFailurePercentage": 101)"), "States.M.ToleratedFailurePercentage",
       "must be a number from 0 to 100, got 101"},
      {"ToleratedFailureCount negative", map(kProc + R"(, "ToleratedFailureCount": -2)"),
       "States.M.ToleratedFailureCount", "must be a non-negative integer, got -2"},
      {"ToleratedFailureCount and Path",
       map(kProc + R"(, "ToleratedFailureCount": 1, "ToleratedFailureCountPath": "$.n")"),
       "States.M", "ToleratedFailureCount and ToleratedFailureCountPath cannot both be set"},
      {"ItemReader refused", map(kProc + R"(, "ItemReader": {"Resource": "x"})"),
       "States.M.ItemReader", "distributed Map is not supported"},
      {"ResultWriter refused", map(kProc + R"(, "ResultWriter": {})"), "States.M.ResultWriter",
       "distributed Map is not supported"},
      {"ItemBatcher refused", map(kProc + R"(, "ItemBatcher": {})"), "States.M.ItemBatcher",
       "distributed Map is not supported"},
      {"DISTRIBUTED mode refused",
       map(R"("ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
              "StartAt": "I", "States": {"I": {"Type": "Succeed"}}})"),
       "States.M.ItemProcessor.ProcessorConfig.Mode", "distributed Map is not supported"},
      {"unknown Mode", map(R"("ItemProcessor": {"ProcessorConfig": {"Mode": "LOCAL"},
              "StartAt": "I", "States": {"I": {"Type": "Succeed"}}})"),
       "States.M.ItemProcessor.ProcessorConfig.Mode", "must be \"INLINE\" or \"DISTRIBUTED\""},
      {"ExecutionType needs DISTRIBUTED",
       map(R"("ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE", "ExecutionType": "EXPRESS"},
              "StartAt": "I", "States": {"I": {"Type": "Succeed"}}})"),
       "States.M.ItemProcessor.ProcessorConfig.ExecutionType", "only allowed with Mode"},
      {"Parameters is not a Map field name for Task-style input",
       map(kProc + R"(, "Resource": "x")"), "States.M.Resource",
       "field not allowed in a Map state"},
      {"nested retrier location",
       Machine(R"("Regions": {"Type": "Map", "End": true, "ItemProcessor": {
         "StartAt": "Run", "States": {"Run": {"Type": "Task", "Resource": "r", "End": true,
           "Retry": [{"ErrorEquals": ["States.ALL"], "BackoffRate": 0.5}]}}}})",
               "Regions"),
       "States.Regions.ItemProcessor.States.Run.Retry[0].BackoffRate", "must be >= 1.0, got 0.5"},
      {"no transition out of a processor",
       Machine(R"("M": {"Type": "Map", "Next": "Z", "ItemProcessor": {
         "StartAt": "I", "States": {"I": {"Type": "Pass", "Next": "Z"}}}}, )" +
                   std::string(kEnd),
               "M"),
       "States.M.ItemProcessor.States.I.Next", "is in another States block"},
  });
}

// ---------------------------------------------------------------------------------------
// Reporting

TEST(ParseDefinition, ReportsEveryProblemAtOnceErrorsFirst) {
  std::vector<Problem> problems;
  auto result = ParseDefinition(R"({
    "StartAt": "Start",
    "TimeoutSeconds": -5,
    "States": {
      "Start": {"Type": "Pass", "Next": "Align"},
      "Align": {"Type": "Task", "Resource": "r", "Next": "Algn",
                "Retry": [{"ErrorEquals": ["States.ALL"], "BackoffRate": 0.5}]},
      "Orphan": {"Type": "Succeed"},
      "Check": {"Type": "Choice", "Choices": [{"Variable": "$.x", "Next": "Start"}]},
      "Sleep": {"Type": "Wait", "Next": "Start"}
    }})",
                                &problems);
  ASSERT_FALSE(result.ok());
  std::vector<std::string> expected = {
      "TimeoutSeconds: must be a positive integer, got -5",
      "States.Align.Retry[0].BackoffRate: must be >= 1.0, got 0.5",
      "States.Check.Choices[0]",
      "States.Sleep: needs one of Seconds",
      "States.Align.Next: no state named \"Algn\"",
  };
  const std::string& message = result.status().message();
  for (const std::string& line : expected) {
    EXPECT_NE(message.find(line), std::string::npos) << line << "\n" << message;
  }
  EXPECT_EQ(ErrorsOf(problems).size(), expected.size()) << Dump(problems);
  // One problem per line; the warnings (Orphan, Check and Sleep are unreachable) come last.
  size_t lines = std::count(message.begin(), message.end(), '\n') + 1;
  EXPECT_EQ(lines, problems.size());
  size_t first_warning = message.find("warning: ");
  ASSERT_NE(first_warning, std::string::npos);
  EXPECT_EQ(message.find("no state named"), message.rfind("no state named"));
  EXPECT_LT(message.find("States.Align.Next"), first_warning);
  for (size_t i = 0; i + 1 < problems.size(); ++i) {
    EXPECT_LE(problems[i].warning, problems[i + 1].warning) << "errors must come first";
  }
  EXPECT_NE(message.find("warning: States.Orphan: unreachable"), std::string::npos);
}

TEST(ParseDefinition, UnreachableStatesAreWarnings) {
  std::vector<Problem> problems;
  auto result = ParseDefinition(Machine(R"(
    "A": {"Type": "Task", "Resource": "r", "Next": "B",
          "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}]},
    "B": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "A"}],
          "Default": "Done"},
    "Handled": {"Type": "Succeed"},
    "Done": {"Type": "Succeed"},
    "Lost": {"Type": "Pass", "Next": "Done"},
    "P": {"Type": "Parallel", "End": true, "Branches": [
      {"StartAt": "B1", "States": {"B1": {"Type": "Succeed"}, "B2": {"Type": "Succeed"}}}]})"),
                                &problems);
  ASSERT_TRUE(result.ok()) << result.status().message();
  std::vector<std::string> warned;
  for (const Problem& p : (*result)->warnings) {
    EXPECT_TRUE(p.warning);
    EXPECT_NE(p.message.find("unreachable"), std::string::npos);
    warned.push_back(p.location);
  }
  // Catch targets and Choice targets count as transitions; nested blocks are checked too.
  EXPECT_EQ(warned, (std::vector<std::string>{"States.Lost", "States.P",
                                              "States.P.Branches[0].States.B2"}));
  EXPECT_EQ(problems.size(), 3u);
}

TEST(ParseDefinition, UncatchableErrorNamesWarn) {
  auto result = ParseDefinition(Machine(R"(
    "A": {"Type": "Task", "Resource": "r", "End": true,
          "Retry": [{"ErrorEquals": ["States.Runtime"]}],
          "Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "Next": "B"}]},
    "B": {"Type": "Succeed"})"));
  ASSERT_TRUE(result.ok()) << result.status().message();
  ASSERT_EQ((*result)->warnings.size(), 2u);
  EXPECT_EQ((*result)->warnings[0].location, "States.A.Retry[0].ErrorEquals[0]");
  EXPECT_EQ((*result)->warnings[1].location, "States.A.Catch[0].ErrorEquals[0]");
}

TEST(ParseDefinition, AcceptsBoundaryValues) {
  std::string name80(80, 'n');
  auto result = ParseDefinition(Machine(R"(")" + name80 + R"(": {"Type": "Task", "Resource": "r",
      "TimeoutSeconds": 2, "HeartbeatSeconds": 1,
      "Retry": [{"ErrorEquals": ["States.TaskFailed", "Custom"], "IntervalSeconds": 1,
                 "MaxAttempts": 0, "BackoffRate": 1, "JitterStrategy": "NONE"}],
      "Next": "W"},
    "W": {"Type": "Wait", "Timestamp": "2024-02-29T23:59:59.999999999-08:00", "Next": "M"},
    "M": {"Type": "Map", "MaxConcurrency": 0, "ToleratedFailurePercentage": 100,
          "ToleratedFailureCount": 0, "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "Next": "F"},
    "F": {"Type": "Fail", "Error": "States.TaskFailed", "Cause": "done"})",
                                        name80));
  EXPECT_TRUE(result.ok()) << result.status().message();
}

// ---------------------------------------------------------------------------------------
// Timestamps

TEST(ParseTimestamp, AcceptsRfc3339Forms) {
  struct Row {
    const char* text;
    int64_t seconds;
    int32_t nanos;
  };
  // Epoch seconds computed independently (Python datetime).
  for (const Row& row : std::vector<Row>{
           {"1970-01-01T00:00:00Z", 0, 0},
           {"2016-03-14T01:59:00Z", 1457920740, 0},
           {"2016-03-14T03:59:00+02:00", 1457920740, 0},
           {"2016-03-13T20:29:00-05:30", 1457920740, 0},
           {"2016-03-14T01:59:00.5Z", 1457920740, 500000000},
           {"2016-03-14T01:59:00.123456789123Z", 1457920740, 123456789},
           {"2000-02-29T12:00:00Z", 951825600, 0},
           {"1969-12-31T23:59:59Z", -1, 0},
       }) {
    SCOPED_TRACE(row.text);
    auto instant = ParseTimestamp(row.text);
    ASSERT_TRUE(instant.has_value());
    EXPECT_EQ(instant->seconds, row.seconds);
    EXPECT_EQ(instant->nanos, row.nanos);
  }
}

TEST(ParseTimestamp, RefusesMalformed) {
  for (const char* text :
       {"", "2016-03-14", "2016-03-14T01:59:00", "2016-03-14t01:59:00Z", "2016-03-14T01:59:00z",
        "2016-03-14 01:59:00Z", "2016-3-14T01:59:00Z", "2016-13-01T00:00:00Z",
        "2016-00-10T00:00:00Z", "2015-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
        "2016-04-31T00:00:00Z", "2016-03-14T24:00:00Z", "2016-03-14T01:60:00Z",
        "2016-03-14T01:59:00.Z", "2016-03-14T01:59:00+0100", "2016-03-14T01:59:00+24:00",
        "2016-03-14T01:59:00Z ", "x2016-03-14T01:59:00Z"}) {
    EXPECT_FALSE(ParseTimestamp(text).has_value()) << text;
  }
}

TEST(ParseTimestamp, OrdersAsInstants) {
  auto a = ParseTimestamp("2016-03-14T01:59:00.1Z");
  auto b = ParseTimestamp("2016-03-14T02:59:00.05+01:00");
  ASSERT_TRUE(a && b);
  EXPECT_LT(*b, *a);  // same second, smaller fraction
  EXPECT_EQ(*ParseTimestamp("2016-03-14T01:59:00Z"), *ParseTimestamp("2016-03-14T02:59:00+01:00"));
}

// ---------------------------------------------------------------------------------------
// Real-world machines

// The PAVI protein MSA pipeline exactly as its design document gives it (seed 002).
constexpr char kPaviMachine[] = R"json({
  "Comment": "PAVI Protein MSA Pipeline",
  "StartAt": "ValidateInput",
  "States": {
    "ValidateInput": {
      "Type": "Pass",
      "Comment": "Validate and prepare input parameters",
      "Parameters": {
        "execution_id.$": "$$.Execution.Name",
        "input_regions.$": "$.seq_regions",
        "s3_work_prefix.$": "States.Format('s3://agr-pavi-pipeline-stepfunctions/executions/{}/work/', $$.Execution.Name)",
        "s3_results_prefix.$": "States.Format('s3://agr-pavi-pipeline-stepfunctions/executions/{}/results/', $$.Execution.Name)"
      },
      "Next": "ParallelSequenceRetrieval"
    },

    "ParallelSequenceRetrieval": {
      "Type": "Map",
      "Comment": "Retrieve sequences in parallel for each input region",
      "ItemsPath": "$.input_regions",
      "MaxConcurrency": 40,
      "ItemProcessor": {
        "ProcessorConfig": {
          "Mode": "INLINE"
        },
        "StartAt": "SequenceRetrievalBatchJob",
        "States": {
          "SequenceRetrievalBatchJob": {
            "Type": "Task",
            "Resource": "arn:aws:states:::batch:submitJob.sync",
            "Parameters": {
              "JobName.$": "States.Format('seq-retrieval-{}', $.unique_entry_id)",
              "JobQueue": "pavi_pipeline",
              "JobDefinition": "arn:aws:batch:REGION:ACCOUNT:job-definition/pavi-seq-retrieval:1",
              "ContainerOverrides": {
                "Memory": 500,
                "Vcpus": 1,
                "Command": [
                  "seq_retrieval.py",
                  "--output_type", "protein",
                  "--unique_entry_id.$", "$.unique_entry_id",
                  "--base_seq_name.$", "$.base_seq_name",
                  "--seq_id.$", "$.seq_id",
                  "--seq_strand.$", "$.seq_strand",
                  "--fasta_file_url.$", "$.fasta_file_url",
                  "--exon_seq_regions.$", "States.JsonToString($.exon_seq_regions)",
                  "--cds_seq_regions.$", "States.JsonToString($.cds_seq_regions)",
                  "--variant_ids.$", "States.JsonToString($.variant_ids)",
                  "--s3_output_prefix.$", "$.s3_work_prefix"
                ]
              }
            },
            "ResultPath": "$.batch_result",
            "End": true
          }
        }
      },
      "ResultPath": "$.retrieval_results",
      "Next": "PrepareAlignmentInput"
    },

    "PrepareAlignmentInput": {
      "Type": "Pass",
      "Comment": "Prepare consolidated input for alignment job",
      "Parameters": {
        "execution_id.$": "$.execution_id",
        "s3_work_prefix.$": "$.s3_work_prefix",
        "s3_results_prefix.$": "$.s3_results_prefix",
        "retrieval_outputs.$": "$.retrieval_results[*].batch_result.Container.Environment"
      },
      "Next": "AlignmentBatchJob"
    },

    "AlignmentBatchJob": {
      "Type": "Task",
      "Resource": "arn:aws:states:::batch:submitJob.sync",
      "Parameters": {
        "JobName.$": "States.Format('alignment-{}', $.execution_id)",
        "JobQueue": "pavi_pipeline",
        "JobDefinition": "arn:aws:batch:REGION:ACCOUNT:job-definition/pavi-alignment:1",
        "ContainerOverrides": {
          "Memory": 2048,
          "Vcpus": 2,
          "Command": [
            "clustalo",
            "-i", "input.fa",
            "--outfmt=clustal",
            "--resno",
            "-o", "alignment-output.aln",
            "--s3-work-prefix.$", "$.s3_work_prefix",
            "--s3-results-prefix.$", "$.s3_results_prefix"
          ]
        }
      },
      "ResultPath": "$.alignment_result",
      "Next": "CollectAndAlignSeqInfo"
    },

    "CollectAndAlignSeqInfo": {
      "Type": "Task",
      "Resource": "arn:aws:states:::batch:submitJob.sync",
      "Parameters": {
        "JobName.$": "States.Format('collect-seqinfo-{}', $.execution_id)",
        "JobQueue": "pavi_pipeline",
        "JobDefinition": "arn:aws:batch:REGION:ACCOUNT:job-definition/pavi-seq-retrieval:1",
        "ContainerOverrides": {
          "Memory": 500,
          "Vcpus": 1,
          "Command": [
            "seq_info_align.py",
            "--s3-work-prefix.$", "$.s3_work_prefix",
            "--s3-results-prefix.$", "$.s3_results_prefix",
            "--alignment-result-file", "alignment-output.aln"
          ]
        }
      },
      "ResultPath": "$.collect_result",
      "Next": "Success"
    },

    "Success": {
      "Type": "Succeed",
      "Comment": "Pipeline completed successfully"
    }
  }
})json";

// A GWAS workflow (regenie) built from seed 004's description of its state machine: Lambda
// tasks for initialisation, job planning, command parsing and success/error handling, a
// Choice on startStep, one Batch job for step 1 and a Map of Batch jobs per chromosome.
constexpr char kGwasMachine[] = R"json({
  "Comment": "GWAS with regenie: initialise, plan jobs, step 1 (model building) then step 2 (association testing, one Batch job per chromosome)",
  "StartAt": "InitializeWorkflow",
  "TimeoutSeconds": 172800,
  "States": {
    "InitializeWorkflow": {
      "Type": "Task",
      "Comment": "Workflow Init Lambda: records the workflow and validates the parameters",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {
        "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:GwasWorkflowInit",
        "Payload": {
          "input.$": "$",
          "executionName.$": "$$.Execution.Name"
        }
      },
      "ResultSelector": {
        "workflowId.$": "$.Payload.workflowId",
        "fsxPath.$": "$.Payload.fsxPath"
      },
      "ResultPath": "$.workflow",
      "Retry": [
        {
          "ErrorEquals": ["Lambda.ServiceException", "Lambda.AWSLambdaException",
                          "Lambda.SdkClientException", "Lambda.TooManyRequestsException"],
          "IntervalSeconds": 2,
          "MaxAttempts": 6,
          "BackoffRate": 2,
          "JitterStrategy": "FULL"
        }
      ],
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "HandleError"}],
      "Next": "CalculateJobs"
    },
    "CalculateJobs": {
      "Type": "Task",
      "Comment": "Job Calculator Lambda: detects the chromosomes and plans the Batch jobs",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {
        "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:GwasJobCalculator",
        "Payload": {
          "workflowId.$": "$.workflow.workflowId",
          "datasetPath.$": "$.datasetPath",
          "batchSize.$": "$.batchSize",
          "startStep.$": "$.startStep"
        }
      },
      "ResultSelector": {
        "chromosomes.$": "$.Payload.chromosomes",
        "jobCount.$": "States.ArrayLength($.Payload.chromosomes)"
      },
      "ResultPath": "$.plan",
      "Retry": [
        {"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 5, "MaxAttempts": 3},
        {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 10, "MaxAttempts": 1}
      ],
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "HandleError"}],
      "Next": "ChooseStartStep"
    },
    "ChooseStartStep": {
      "Type": "Choice",
      "Comment": "startStep 1 runs both steps; 2 assumes the step 1 predictions exist",
      "Choices": [
        {"Variable": "$.startStep", "StringEquals": "1", "Next": "ParseStep1Command"},
        {
          "And": [
            {"Variable": "$.startStep", "StringEquals": "2"},
            {"Variable": "$.plan.jobCount", "NumericGreaterThan": 0}
          ],
          "Next": "ParseStep2Commands"
        }
      ],
      "Default": "InvalidStartStep"
    },
    "InvalidStartStep": {
      "Type": "Fail",
      "Error": "Gwas.InvalidStartStep",
      "CausePath": "States.Format('startStep must be 1 or 2 with at least one chromosome, got {}', $.startStep)"
    },
    "ParseStep1Command": {
      "Type": "Task",
      "Comment": "Command Parser Lambda: the regenie step 1 command line",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {
        "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:GwasCommandParser",
        "Payload": {
          "step": 1,
          "workflowId.$": "$.workflow.workflowId",
          "fsxPath.$": "$.workflow.fsxPath",
          "phenotype.$": "$.phenotype"
        }
      },
      "ResultSelector": {"command.$": "$.Payload.command"},
      "ResultPath": "$.step1",
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "HandleError"}],
      "Next": "RunStep1"
    },
    "RunStep1": {
      "Type": "Task",
      "Comment": "One Batch job builds the prediction models (step1_out_pred.list)",
      "Resource": "arn:aws:states:::batch:submitJob.sync",
      "Parameters": {
        "JobName.$": "States.Format('regenie-step1-{}', $.workflow.workflowId)",
        "JobQueue": "gwas-regenie-queue",
        "JobDefinition": "gwas-regenie",
        "ContainerOverrides": {
          "Command.$": "$.step1.command",
          "ResourceRequirements": [
            {"Type": "VCPU", "Value": "8"},
            {"Type": "MEMORY", "Value": "32768"}
          ],
          "Environment": [
            {"Name": "WORKFLOW_ID", "Value.$": "$.workflow.workflowId"},
            {"Name": "REGENIE_STEP", "Value": "1"}
          ]
        }
      },
      "ResultSelector": {
        "JobId.$": "$.JobId",
        "Status.$": "$.Status",
        "ExitCode.$": "$.Container.ExitCode"
      },
      "ResultPath": "$.step1.job",
      "TimeoutSeconds": 86400,
      "Retry": [
        {"ErrorEquals": ["Batch.AWSBatchException"], "IntervalSeconds": 5, "MaxAttempts": 3,
         "BackoffRate": 2, "MaxDelaySeconds": 60}
      ],
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "HandleError"}],
      "Next": "ParseStep2Commands"
    },
    "ParseStep2Commands": {
      "Type": "Task",
      "Comment": "Command Parser Lambda: one regenie step 2 command per chromosome",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {
        "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:GwasCommandParser",
        "Payload": {
          "step": 2,
          "workflowId.$": "$.workflow.workflowId",
          "fsxPath.$": "$.workflow.fsxPath",
          "chromosomes.$": "$.plan.chromosomes",
          "predictions.$": "States.Format('{}/step1_out_pred.list', $.workflow.fsxPath)"
        }
      },
      "ResultSelector": {"commands.$": "$.Payload.commands"},
      "ResultPath": "$.step2",
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "HandleError"}],
      "Next": "RunStep2ByChromosome"
    },
    "RunStep2ByChromosome": {
      "Type": "Map",
      "Comment": "Association testing, one Batch job per chromosome",
      "ItemsPath": "$.step2.commands",
      "MaxConcurrency": 0,
      "ItemSelector": {
        "workflowId.$": "$.workflow.workflowId",
        "index.$": "$$.Map.Item.Index",
        "chromosome.$": "$$.Map.Item.Value.chromosome",
        "command.$": "$$.Map.Item.Value.command"
      },
      "ItemProcessor": {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "RunStep2Job",
        "States": {
          "RunStep2Job": {
            "Type": "Task",
            "Resource": "arn:aws:states:::batch:submitJob.sync",
            "Parameters": {
              "JobName.$": "States.Format('regenie-step2-chr{}-{}', $.chromosome, $.workflowId)",
              "JobQueue": "gwas-regenie-queue",
              "JobDefinition": "gwas-regenie",
              "ContainerOverrides": {
                "Command.$": "$.command",
                "Environment": [
                  {"Name": "CHROMOSOME", "Value.$": "States.Format('{}', $.chromosome)"},
                  {"Name": "REGENIE_STEP", "Value": "2"}
                ]
              }
            },
            "ResultSelector": {
              "JobId.$": "$.JobId",
              "Status.$": "$.Status"
            },
            "TimeoutSeconds": 43200,
            "Retry": [
              {"ErrorEquals": ["Batch.AWSBatchException"], "IntervalSeconds": 5, "MaxAttempts": 3},
              {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 30, "MaxAttempts": 1}
            ],
            "End": true
          }
        }
      },
      "ResultPath": "$.step2.jobs",
      "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "HandleError"}],
      "Next": "HandleSuccess"
    },
    "HandleSuccess": {
      "Type": "Task",
      "Comment": "Success Handler Lambda: marks the workflow COMPLETED with its job statistics",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {
        "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:GwasSuccessHandler",
        "Payload": {
          "workflowId.$": "$.workflow.workflowId",
          "jobs.$": "$.step2.jobs[*].JobId",
          "jobCount.$": "States.ArrayLength($.step2.jobs)"
        }
      },
      "ResultPath": null,
      "Next": "WorkflowSucceeded"
    },
    "WorkflowSucceeded": {"Type": "Succeed"},
    "HandleError": {
      "Type": "Task",
      "Comment": "Error Handler Lambda: records the failure in DynamoDB",
      "Resource": "arn:aws:states:::lambda:invoke",
      "Parameters": {
        "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:GwasErrorHandler",
        "Payload": {
          "executionName.$": "$$.Execution.Name",
          "error.$": "$.error"
        }
      },
      "ResultPath": null,
      "Next": "WorkflowFailed"
    },
    "WorkflowFailed": {
      "Type": "Fail",
      "ErrorPath": "$.error.Error",
      "CausePath": "$.error.Cause"
    }
  }
})json";

TEST(RealWorldMachines, PaviParsesWithLiteralDollarWarnings) {
  std::vector<Problem> problems;
  auto result = ParseDefinition(kPaviMachine, &problems);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(ErrorsOf(problems).empty());
  const Definition& def = **result;
  // "--unique_entry_id.$" inside the Command array is a plain string in an array, copied
  // literally as AWS does: a warning, not an error.
  const std::string kCommand =
      "States.ParallelSequenceRetrieval.ItemProcessor.States.SequenceRetrievalBatchJob."
      "Parameters.ContainerOverrides.Command";
  bool warned = false;
  for (const Problem& p : def.warnings) {
    EXPECT_TRUE(p.warning);
    if (p.location == kCommand + "[3]" &&
        p.message.find("--unique_entry_id.$") != std::string::npos) {
      warned = true;
    }
  }
  EXPECT_TRUE(warned) << Dump(def.warnings);
  const StateMachine& m = def.machine;
  EXPECT_EQ(m.start_at, "ValidateInput");
  ASSERT_EQ(m.states.size(), 6u);
  const State& map = *m.Find("ParallelSequenceRetrieval");
  EXPECT_EQ(map.type, StateType::kMap);
  EXPECT_EQ(map.items_path.path.text(), "$.input_regions");
  EXPECT_EQ(map.max_concurrency.literal, 40);
  EXPECT_EQ(map.result_path.path.text(), "$.retrieval_results");
  ASSERT_NE(map.processor, nullptr);
  const State* job = map.processor->start();
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->resource, "arn:aws:states:::batch:submitJob.sync");
  EXPECT_TRUE(job->end);
  EXPECT_FALSE(job->timeout_seconds.present());  // no 60 s default
  EXPECT_EQ(m.Find("CollectAndAlignSeqInfo")->next, "Success");
}

TEST(RealWorldMachines, GwasParsesCleanly) {
  std::vector<Problem> problems;
  auto result = ParseDefinition(kGwasMachine, &problems);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(problems.empty()) << Dump(problems);
  const StateMachine& m = (*result)->machine;
  EXPECT_EQ((*result)->timeout_seconds, 172800);
  EXPECT_EQ(m.states.size(), 12u);
  const State& choice = *m.Find("ChooseStartStep");
  ASSERT_EQ(choice.choices.size(), 2u);
  EXPECT_EQ(choice.choices[1].op, ChoiceRule::Op::kAnd);
  EXPECT_EQ(choice.default_next, "InvalidStartStep");
  EXPECT_TRUE(m.Find("InvalidStartStep")->cause_path.intrinsic.has_value());
  const State& step1 = *m.Find("RunStep1");
  EXPECT_EQ(step1.timeout_seconds.literal, 86400);
  ASSERT_EQ(step1.retry.size(), 1u);
  EXPECT_EQ(step1.retry[0].max_delay_seconds, 60);
  const State& map = *m.Find("RunStep2ByChromosome");
  EXPECT_EQ(map.max_concurrency.literal, 0);
  EXPECT_TRUE(map.item_selector.has_value());
  EXPECT_EQ(map.processor->start()->retry.size(), 2u);
  EXPECT_EQ(m.Find("HandleSuccess")->result_path.kind, OptionalPath::Kind::kNull);
  EXPECT_TRUE(m.Find("WorkflowFailed")->error_path.path.has_value());
}

}  // namespace
}  // namespace sluice::asl
