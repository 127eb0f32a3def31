#include "asl/payload.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "asl/value.h"

namespace sluice::asl {
namespace {

Value Json(const char* text) { return Value::parse(text); }

const Value& Context() {
  static const Value context = Json(R"js({
    "Execution": {"Name": "run-1", "Id": "arn:exec:run-1"},
    "State": {"Name": "Run", "RetryCount": 1},
    "Map": {"Item": {"Index": 4, "Value": {"region": "chr1", "n": null}}}
  })js");
  return context;
}

struct Compiled {
  bool ok = false;
  PayloadTemplate tmpl;
  std::vector<Problem> problems;
};

Compiled CompileText(const char* text, const std::string& location = "States.S.Parameters") {
  Compiled c;
  c.ok = PayloadTemplate::Compile(Json(text), location, &c.tmpl, &c.problems);
  return c;
}

int CountErrors(const std::vector<Problem>& problems) {
  int n = 0;
  for (const Problem& p : problems) n += !p.warning;
  return n;
}

struct ApplyCase {
  const char* name;
  const char* tmpl;
  const char* input;
  const char* expected;
};

std::ostream& operator<<(std::ostream& os, const ApplyCase& c) { return os << c.name; }

class PayloadApply : public testing::TestWithParam<ApplyCase> {};

TEST_P(PayloadApply, BuildsTheEffectiveValue) {
  const ApplyCase& c = GetParam();
  Compiled compiled = CompileText(c.tmpl);
  ASSERT_TRUE(compiled.ok) << (compiled.problems.empty() ? "" : compiled.problems[0].ToString());
  Random random(1);
  EvalResult<Value> out = compiled.tmpl.Apply(Json(c.input), Context(), random);
  ASSERT_TRUE(out.ok()) << out.error().error << ": " << out.error().cause;
  EXPECT_EQ(out->dump(), Json(c.expected).dump());
}

INSTANTIATE_TEST_SUITE_P(
    All, PayloadApply,
    testing::Values(
        ApplyCase{"RenamesDollarKeys", R"js({"a.$": "$.x", "b": 1})js", R"js({"x": [1, 2]})js",
                  R"js({"a": [1, 2], "b": 1})js"},
        ApplyCase{"KeepsTemplateOrder", R"js({"z": 1, "y.$": "$.v", "x": 3})js", R"js({"v": 2})js",
                  R"js({"z": 1, "y": 2, "x": 3})js"},
        ApplyCase{"CopiesPathLookingValuesUnderPlainKeys",
                  R"js({"lit": "$.x", "fn": "States.UUID()"})js", R"js({"x": 1})js",
                  R"js({"lit": "$.x", "fn": "States.UUID()"})js"},
        ApplyCase{"NullFromAPathIsKept", R"js({"a.$": "$.n"})js", R"js({"n": null})js",
                  R"js({"a": null})js"},
        ApplyCase{"WholeInput", R"js({"all.$": "$"})js", R"js({"k": [1]})js",
                  R"js({"all": {"k": [1]}})js"},
        ApplyCase{"ResolvesInNestedObjects", R"js({"o": {"p": {"q.$": "$.x"}}})js",
                  R"js({"x": 7})js", R"js({"o": {"p": {"q": 7}}})js"},
        ApplyCase{"ResolvesInObjectsInsideArrays",
                  R"js({"Env": [{"Name": "ID", "Value.$": "$.id"}, {"Name": "K", "Value": "v"}],
                      "Nested": [[{"a.$": "$.id"}]]})js",
                  R"js({"id": "e1"})js",
                  R"js({"Env": [{"Name": "ID", "Value": "e1"}, {"Name": "K", "Value": "v"}],
                      "Nested": [[{"a": "e1"}]]})js"},
        ApplyCase{"ArrayStringsAreLiteral",
                  R"js({"Command": ["run", "--unique_entry_id.$", "$.unique_entry_id"]})js",
                  R"js({"unique_entry_id": "u1"})js",
                  R"js({"Command": ["run", "--unique_entry_id.$", "$.unique_entry_id"]})js"},
        ApplyCase{"IndefinitePathGivesAList", R"js({"ids.$": "$.items[*].id",
                      "one.$": "$.items[?(@.id == 'b')].id", "none.$": "$.items[?(@.x)]"})js",
                  R"js({"items": [{"id": "a"}, {"id": "b"}]})js",
                  R"js({"ids": ["a", "b"], "one": ["b"], "none": []})js"},
        ApplyCase{"ContextPaths",
                  R"js({"name.$": "$$.Execution.Name", "retry.$": "$$.State.RetryCount"})js", "{}",
                  R"js({"name": "run-1", "retry": 1})js"},
        ApplyCase{"MapItemFields",
                  R"js({"index.$": "$$.Map.Item.Index", "value.$": "$$.Map.Item.Value",
                      "region.$": "$$.Map.Item.Value.region", "n.$": "$$.Map.Item.Value.n",
                      "shared.$": "$.shared"})js",
                  R"js({"shared": "s"})js",
                  R"js({"index": 4, "value": {"region": "chr1", "n": null}, "region": "chr1",
                      "n": null, "shared": "s"})js"},
        ApplyCase{"Intrinsics",
                  R"js({"JobName.$": "States.Format('seq-retrieval-{}', $.id)",
                      "Command.$": "States.Array('--id', $.id, '--n', States.JsonToString($.n))",
                      "prefix.$": "States.Format('s3://b/executions/{}/work/', $$.Execution.Name)"})js",
                  R"js({"id": "u1", "n": [1, 2]})js",
                  R"js({"JobName": "seq-retrieval-u1", "Command": ["--id", "u1", "--n", "[1,2]"],
                      "prefix": "s3://b/executions/run-1/work/"})js"},
        ApplyCase{"ConstantSubtrees", R"js({"c": {"a": [1, {"b": 2}], "s": "x"}, "d.$": "$.v"})js",
                  R"js({"v": 0})js", R"js({"c": {"a": [1, {"b": 2}], "s": "x"}, "d": 0})js"},
        ApplyCase{"EmptyObject", "{}", R"js({"x": 1})js", "{}"},
        ApplyCase{"ScalarTemplate", "5", R"js({"x": 1})js", "5"},
        ApplyCase{"ArrayTemplate", R"js([{"a.$": "$.x"}, 2])js", R"js({"x": 1})js",
                  R"js([{"a": 1}, 2])js"},
        ApplyCase{"KeyMadeOnlyOfDollarSuffix", R"js({".$": "$.x"})js", R"js({"x": 1})js",
                  R"js({"": 1})js"}),
    [](const testing::TestParamInfo<ApplyCase>& info) { return std::string(info.param.name); });

TEST(Payload, CompiledOnceAppliedManyTimes) {
  Compiled c = CompileText(R"js({"a.$": "$.x", "i.$": "$$.Map.Item.Index"})js");
  ASSERT_TRUE(c.ok);
  Random random(1);
  for (int i = 0; i < 5; ++i) {
    Value input = Value::object();
    input["x"] = i;
    Value context = Value::object();
    context["Map"]["Item"]["Index"] = i * 10;
    EvalResult<Value> out = c.tmpl.Apply(input, context, random);
    ASSERT_TRUE(out.ok());
    EXPECT_EQ((*out)["a"], i);
    EXPECT_EQ((*out)["i"], i * 10);
  }
  PayloadTemplate copy = c.tmpl;  // copies share the compiled form
  EXPECT_EQ(copy.Apply(Json(R"js({"x": "c"})js"), Context(), random)->dump(),
            R"js({"a":"c","i":4})js");
}

TEST(Payload, MissingPathIsRuntimeErrorNamingFieldPathAndInput) {
  Compiled c = CompileText(R"js({"ok.$": "$.x", "a.$": "$.missing"})js");
  ASSERT_TRUE(c.ok);
  Random random(1);
  EvalResult<Value> out = c.tmpl.Apply(Json(R"js({"x":1})js"), Context(), random);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().error, "States.Runtime");
  EXPECT_EQ(out.error().cause,
            "The JSONPath '$.missing' specified for the field 'a.$' could not be found in the "
            "input '{\"x\":1}'");
}

TEST(Payload, MissingContextPathIsRuntimeError) {
  Compiled c = CompileText(R"js({"list": [{"v.$": "$$.Map.Item.Nope"}]})js");
  ASSERT_TRUE(c.ok);
  Random random(1);
  EvalResult<Value> out = c.tmpl.Apply(Json("{}"), Context(), random);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().error, "States.Runtime");
  EXPECT_NE(out.error().cause.find("'$$.Map.Item.Nope' specified for the field 'v.$'"),
            std::string::npos)
      << out.error().cause;
}

TEST(Payload, IntrinsicErrorsPropagate) {
  Compiled c = CompileText(R"js({"x.$": "States.ArrayGetItem($.arr, 10)"})js");
  ASSERT_TRUE(c.ok);
  Random random(1);
  EvalResult<Value> out = c.tmpl.Apply(Json(R"js({"arr": [1]})js"), Context(), random);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().error, "States.IntrinsicFailure");
}

struct ProblemCase {
  const char* tmpl;
  const char* location;  // where the (first) error is reported
};

std::ostream& operator<<(std::ostream& os, const ProblemCase& c) { return os << c.tmpl; }

class PayloadCompileError : public testing::TestWithParam<ProblemCase> {};

TEST_P(PayloadCompileError, IsReportedWithItsLocation) {
  Compiled c = CompileText(GetParam().tmpl);
  EXPECT_FALSE(c.ok) << GetParam().tmpl;
  ASSERT_GE(CountErrors(c.problems), 1);
  const Problem* first = nullptr;
  for (const Problem& p : c.problems) {
    if (!p.warning && first == nullptr) first = &p;
  }
  EXPECT_EQ(first->location, GetParam().location) << first->ToString();
  EXPECT_FALSE(first->message.empty());
}

INSTANTIATE_TEST_SUITE_P(
    All, PayloadCompileError,
    testing::Values(ProblemCase{R"js({"a.$": 1})js", "States.S.Parameters.a.$"},
                    ProblemCase{R"js({"a.$": {"b": "$.x"}})js", "States.S.Parameters.a.$"},
                    ProblemCase{R"js({"a.$": "$.["})js", "States.S.Parameters.a.$"},
                    ProblemCase{R"js({"a.$": "hello"})js", "States.S.Parameters.a.$"},
                    ProblemCase{R"js({"a.$": ""})js", "States.S.Parameters.a.$"},
                    ProblemCase{R"js({"a.$": "States.Formatt('x')"})js", "States.S.Parameters.a.$"},
                    ProblemCase{R"js({"a.$": "States.Format('{}')"})js", "States.S.Parameters.a.$"},
                    ProblemCase{R"js({"a.$": "$myVariable"})js", "States.S.Parameters.a.$"},
                    ProblemCase{R"js({"a": 1, "a.$": "$.x"})js", "States.S.Parameters.a.$"},
                    ProblemCase{R"js({"o": {"l": [0, {"k.$": 5}]}})js",
                                "States.S.Parameters.o.l[1].k.$"}));

TEST(Payload, EveryProblemIsListedAndOutputUntouched) {
  Compiled c = CompileText(R"js({"a.$": 1, "b": {"c.$": "nope"}, "d": [{"e.$": "$.["}],
                               "f.$": "$.ok"})js");
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(CountErrors(c.problems), 3);
  Random random(1);
  // `out` was not assigned: still the default template.
  EXPECT_EQ(c.tmpl.Apply(Json(R"js({"ok":1})js"), Context(), random)->dump(), "{}");
}

TEST(Payload, WarnsAboutDollarKeysWrittenInsideArrays) {
  // Seed 002's Command list: AWS passes these strings literally.
  Compiled c = CompileText(
      R"js({"ContainerOverrides": {"Command": ["--unique_entry_id.$", "$.unique_entry_id",
                                              "--plain", "States.JsonToString($.x)"]}})js",
      "States.Retrieve.Parameters");
  ASSERT_TRUE(c.ok);
  std::vector<std::string> locations;
  for (const Problem& p : c.problems) {
    EXPECT_TRUE(p.warning) << p.ToString();
    locations.push_back(p.location);
  }
  EXPECT_EQ(locations,
            (std::vector<std::string>{"States.Retrieve.Parameters.ContainerOverrides.Command[0]",
                                      "States.Retrieve.Parameters.ContainerOverrides.Command[1]",
                                      "States.Retrieve.Parameters.ContainerOverrides.Command[3]"}));
  EXPECT_NE(c.problems[0].message.find("States.Array"), std::string::npos) << c.problems[0].message;
  EXPECT_NE(c.problems[0].message.find("--unique_entry_id.$"), std::string::npos);
}

TEST(Payload, WarnsAboutPathLookingValuesUnderPlainKeys) {
  Compiled c = CompileText(R"js({"a": "$.x", "b": "$$.Execution.Id", "c": "$5.00",
                               "d": "price in $", "e": "x.$", "f.$": "$.y"})js");
  ASSERT_TRUE(c.ok);
  std::vector<std::string> locations;
  for (const Problem& p : c.problems) {
    EXPECT_TRUE(p.warning);
    locations.push_back(p.location);
  }
  // "x.$" under a plain key is ordinary text; only array elements get that warning.
  EXPECT_EQ(locations,
            (std::vector<std::string>{"States.S.Parameters.a", "States.S.Parameters.b"}));
}

TEST(Payload, NoWarningsForAnOrdinaryTemplate) {
  Compiled c = CompileText(R"js({"JobName.$": "States.Format('j-{}', $.id)", "JobQueue": "q",
                               "Command": ["python", "run.py", "--fast"]})js");
  ASSERT_TRUE(c.ok);
  EXPECT_TRUE(c.problems.empty());
}

TEST(Payload, DefaultTemplateGivesAnEmptyObject) {
  PayloadTemplate tmpl;
  Random random(1);
  EXPECT_EQ(tmpl.Apply(Json(R"js({"x":1})js"), Context(), random)->dump(), "{}");
}

// value.h: error matching and JSON helpers.

struct MatchCase {
  std::vector<std::string> error_equals;
  const char* error;
  bool matches;
};

std::ostream& operator<<(std::ostream& os, const MatchCase& c) { return os << c.error; }

class ErrorMatchesTest : public testing::TestWithParam<MatchCase> {};

TEST_P(ErrorMatchesTest, FollowsAwsRules) {
  const MatchCase& c = GetParam();
  EXPECT_EQ(ErrorMatches(c.error_equals, c.error), c.matches) << c.error;
}

INSTANTIATE_TEST_SUITE_P(
    All, ErrorMatchesTest,
    testing::Values(MatchCase{{"States.ALL"}, "MyError", true},
                    MatchCase{{"States.ALL"}, "States.Timeout", true},
                    MatchCase{{"States.ALL"}, "States.TaskFailed", true},
                    MatchCase{{"States.ALL"}, "States.Runtime", false},
                    MatchCase{{"States.ALL"}, "States.DataLimitExceeded", false},
                    MatchCase{{"States.TaskFailed"}, "States.TaskFailed", true},
                    MatchCase{{"States.TaskFailed"}, "MyError", true},
                    MatchCase{{"States.TaskFailed"}, "States.Permissions", true},
                    MatchCase{{"States.TaskFailed"}, "States.Timeout", false},
                    MatchCase{{"States.TaskFailed"}, "States.Runtime", false},
                    MatchCase{{"States.Timeout"}, "States.Timeout", true},
                    MatchCase{{"States.Runtime"}, "States.Runtime", false},
                    MatchCase{{"MyError"}, "MyError", true},
                    MatchCase{{"MyError"}, "myerror", false},
                    MatchCase{{"MyError"}, "MyError2", false}, MatchCase{{"A", "B"}, "B", true},
                    MatchCase{{}, "A", false}));

TEST(ErrorMatches, UncatchableErrors) {
  EXPECT_TRUE(IsUncatchable("States.Runtime"));
  EXPECT_TRUE(IsUncatchable("States.DataLimitExceeded"));
  EXPECT_FALSE(IsUncatchable("States.Timeout"));
  EXPECT_FALSE(IsUncatchable("States.ALL"));
}

TEST(JsonEquals, ComparesByValue) {
  EXPECT_TRUE(JsonEquals(Json("1"), Json("1.0")));
  EXPECT_TRUE(JsonEquals(Json(R"js({"a":1,"b":[1,{"c":2,"d":3}]})js"),
                         Json(R"js({"b":[1.0,{"d":3,"c":2}],"a":1})js")));
  EXPECT_FALSE(JsonEquals(Json(R"js({"a":1})js"), Json(R"js({"a":1,"b":2})js")));
  EXPECT_FALSE(JsonEquals(Json(R"js({"a":1,"c":2})js"), Json(R"js({"a":1,"b":2})js")));
  EXPECT_FALSE(JsonEquals(Json("[1,2]"), Json("[2,1]")));
  EXPECT_FALSE(JsonEquals(Json("\"1\""), Json("1")));
  EXPECT_FALSE(JsonEquals(Json("null"), Json("false")));
  EXPECT_TRUE(JsonEquals(Json("null"), Json("null")));
}

TEST(JsonTypeName, NamesEachJsonType) {
  EXPECT_EQ(JsonTypeName(Json("null")), "null");
  EXPECT_EQ(JsonTypeName(Json("true")), "boolean");
  EXPECT_EQ(JsonTypeName(Json("1")), "number");
  EXPECT_EQ(JsonTypeName(Json("-1")), "number");
  EXPECT_EQ(JsonTypeName(Json("1.5")), "number");
  EXPECT_EQ(JsonTypeName(Json("\"s\"")), "string");
  EXPECT_EQ(JsonTypeName(Json("[]")), "array");
  EXPECT_EQ(JsonTypeName(Json("{}")), "object");
}

TEST(JsonForMessage, CutsLongTextAtACharacterBoundary) {
  EXPECT_EQ(JsonForMessage(Json(R"js({"a": [1, 2]})js")), R"js({"a":[1,2]})js");
  std::string text;
  for (int i = 0; i < 100; ++i) text += "\xc3\xa9";  // two bytes each
  std::string cut = JsonForMessage(Value(text), 10);
  // '"' + four whole characters (8 bytes) + "..."; never half a character.
  EXPECT_EQ(cut, "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...");
}

}  // namespace
}  // namespace sluice::asl
