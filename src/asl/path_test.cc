#include "asl/path.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace sluice::asl {
namespace {

// Expected values are written in document order and compared as text, so member order,
// result order (Jayway's pre-order for deep scans) and integer-vs-float all count.
Value Json(const char* text) { return Value::parse(text); }

const Value& Doc() {
  static const Value doc = Json(R"({
    "a": {"b": [10, 20, {"c": "x"}]},
    "n": null,
    "s": "str",
    "k.dot": 1,
    "sp ace": 2,
    "q'uote": 3,
    "items": [
      {"id": "a", "price": 5, "tags": ["x"]},
      {"id": "b", "price": 15},
      {"id": "c", "price": 25, "on": true},
      {"id": "d", "price": 10, "name": null}
    ],
    "nested": {"x": 1, "deeper": {"x": 2, "list": [{"x": 3}]}}
  })");
  return doc;
}

const Value& Context() {
  static const Value context = Json(R"({
    "Execution": {"Id": "arn:exec:1", "Name": "run-1", "Input": {"k": 1}},
    "State": {"Name": "Run", "RetryCount": 0},
    "Map": {"Item": {"Index": 3, "Value": {"id": "v3", "n": null}}}
  })");
  return context;
}

struct EvalCase {
  const char* path;
  const char* expected;  // JSON text
};

std::ostream& operator<<(std::ostream& os, const EvalCase& c) { return os << c.path; }

class PathEvaluate : public testing::TestWithParam<EvalCase> {};

TEST_P(PathEvaluate, SelectsWhatJaywaySelects) {
  const EvalCase& c = GetParam();
  auto path = Path::Parse(c.path);
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EvalResult<Value> v = path->Evaluate(Doc(), Context());
  ASSERT_TRUE(v.ok()) << v.error().cause;
  EXPECT_EQ(v->dump(), Json(c.expected).dump()) << c.path;
}

INSTANTIATE_TEST_SUITE_P(
    Definite, PathEvaluate,
    testing::Values(EvalCase{"$.a.b[0]", "10"}, EvalCase{"$.a.b[-1]", R"({"c":"x"})"},
                    EvalCase{"$.a.b[-3]", "10"}, EvalCase{"$.a.b[2].c", R"("x")"},
                    EvalCase{"$['a']['b'][1]", "20"}, EvalCase{R"($["a"].b[1])", "20"},
                    EvalCase{"$[ 'a' ][ 'b' ][ 1 ]", "20"}, EvalCase{"$.['a'].b[1]", "20"},
                    EvalCase{"$['k.dot']", "1"}, EvalCase{"$['sp ace']", "2"},
                    EvalCase{R"($['q\'uote'])", "3"}, EvalCase{R"($["q'uote"])", "3"},
                    EvalCase{R"($['\u0073'])", R"("str")"}, EvalCase{"$.n", "null"},
                    EvalCase{"$.s", R"("str")"}, EvalCase{"$.items[3].name", "null"},
                    // Jayway: a union of names as the last step merges the members that exist.
                    EvalCase{"$['s','n','missing']", R"({"s":"str","n":null})"},
                    EvalCase{"$.items[0]['id','price']", R"({"id":"a","price":5})"},
                    // Context object, Map item fields included.
                    EvalCase{"$$.Execution.Name", R"("run-1")"}, EvalCase{"$$.Map.Item.Index", "3"},
                    EvalCase{"$$.Map.Item.Value", R"({"id":"v3","n":null})"},
                    EvalCase{"$$.Map.Item.Value.id", R"("v3")"},
                    EvalCase{"$$.Map.Item.Value.n", "null"},
                    EvalCase{"$$['Execution']['Input'].k", "1"}));

INSTANTIATE_TEST_SUITE_P(
    Indefinite, PathEvaluate,
    testing::Values(
        EvalCase{"$.items[*].id", R"(["a","b","c","d"])"},
        EvalCase{"$.items.*.id", R"(["a","b","c","d"])"},
        EvalCase{"$.items[0,2].id", R"(["a","c"])"}, EvalCase{"$.items[2,0].id", R"(["c","a"])"},
        EvalCase{"$.items[0,9].id", R"(["a"])"}, EvalCase{"$.items[-1,0].id", R"(["d","a"])"},
        EvalCase{"$.items[1:3].id", R"(["b","c"])"}, EvalCase{"$.items[:2].id", R"(["a","b"])"},
        EvalCase{"$.items[-2:].id", R"(["c","d"])"}, EvalCase{"$.items[2:].id", R"(["c","d"])"},
        EvalCase{"$.items[1:-1].id", R"(["b","c"])"}, EvalCase{"$.items[0:0].id", "[]"},
        EvalCase{"$.items[5:9].id", "[]"},
        // One match or none is still a list.
        EvalCase{"$.items[0:1].id", R"(["a"])"}, EvalCase{"$.missing[*]", "[]"},
        EvalCase{"$.items[*].missing", "[]"}, EvalCase{"$.items[*].name", "[null]"},
        EvalCase{"$.s.*", "[]"}, EvalCase{"$.s[*]", "[]"},
        EvalCase{"$.nested.*", R"([1,{"x":2,"list":[{"x":3}]}])"},
        EvalCase{"$.a[*]", R"([[10,20,{"c":"x"}]])"},
        EvalCase{"$.items[*]['id','price']",
                 R"([{"id":"a","price":5},{"id":"b","price":15},{"id":"c","price":25},
                     {"id":"d","price":10}])"},
        // Deep scan: pre-order, a node before its descendants.
        EvalCase{"$..x", "[1,2,3]"}, EvalCase{"$.nested..x", "[1,2,3]"},
        EvalCase{"$..price", "[5,15,25,10]"}, EvalCase{"$..missing", "[]"},
        EvalCase{"$.nested..*", R"([1,{"x":2,"list":[{"x":3}]},2,[{"x":3}],{"x":3},3])"},
        EvalCase{"$.a..[0]", "[10]"}, EvalCase{"$..tags[0]", R"(["x"])"},
        EvalCase{"$..['c','id']", R"(["x","a","b","c","d"])"},
        EvalCase{"$.nested..[?(@.x)]",
                 R"([{"x":1,"deeper":{"x":2,"list":[{"x":3}]}},{"x":2,"list":[{"x":3}]},
                     {"x":3}])"},
        EvalCase{"$.nested..[?(@.x > 1)].x", "[2,3]"}));

INSTANTIATE_TEST_SUITE_P(
    Filters, PathEvaluate,
    testing::Values(
        EvalCase{"$.items[?(@.price > 10)].id", R"(["b","c"])"},
        EvalCase{"$.items[?(@.price >= 15)].id", R"(["b","c"])"},
        EvalCase{"$.items[?(@.price < 10)].id", R"(["a"])"},
        EvalCase{"$.items[?(@.price <= 10)].id", R"(["a","d"])"},
        EvalCase{"$.items[?(@.price == 15)].id", R"(["b"])"},
        EvalCase{"$.items[?(@.price == 15.0)].id", R"(["b"])"},
        EvalCase{"$.items[?(@.id == 'b')].price", "[15]"},
        EvalCase{R"($.items[?(@.id == "c")].price)", "[25]"},
        EvalCase{"$.items[?(@.id != 'b')].id", R"(["a","c","d"])"},
        EvalCase{"$.items[?(@.id > 'b')].id", R"(["c","d"])"},
        EvalCase{"$.items[?(@.price > 5 && @.price < 25)].id", R"(["b","d"])"},
        EvalCase{"$.items[?(@.id == 'a' || @.on == true)].id", R"(["a","c"])"},
        EvalCase{"$.items[?(@.price>5&&@.price<25)].id", R"(["b","d"])"},
        EvalCase{"$.items[?(@.on)].id", R"(["c"])"},
        // Existence: a member set to null exists.
        EvalCase{"$.items[?(@.name)].id", R"(["d"])"},
        EvalCase{"$.items[?(@.name == null)].id", R"(["d"])"},
        EvalCase{"$.items[?(!@.on)].id", R"(["a","b","d"])"},
        EvalCase{"$.items[?((@.price < 10 || @.price > 20) && @.id != 'a')].id", R"(["c"])"},
        EvalCase{"$.items[?(@.price > $.a.b[0])].id", R"(["b","c"])"},
        EvalCase{"$.items[?(@.tags[0] == 'x')].id", R"(["a"])"},
        EvalCase{"$.items[?(@['id'] == 'd')].price", "[10]"},
        // A missing member or a type mismatch makes the comparison false, not an error.
        EvalCase{"$.items[?(@.id > 5)].id", "[]"}, EvalCase{"$.items[?(@.missing < 5)].id", "[]"},
        EvalCase{"$.items[?(@.price > 100)]", "[]"},
        // Jayway: a filter on an object tests the object itself.
        EvalCase{"$.nested[?(@.x == 1)].x", "[1]"}, EvalCase{"$.nested[?(@.x == 2)]", "[]"},
        EvalCase{"$.a.b[?(@ > 10)]", "[20]"}, EvalCase{"$.a.b[?(@.c)].c", R"(["x"])"}));

TEST(Path, RootSelectsTheWholeDocument) {
  auto root = Path::Parse("$");
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root->IsRoot());
  EXPECT_EQ(root->Evaluate(Doc(), Context())->dump(), Doc().dump());
  auto context_root = Path::Parse("$$");
  ASSERT_TRUE(context_root.ok());
  EXPECT_TRUE(context_root->IsRoot());
  EXPECT_TRUE(context_root->IsContext());
  EXPECT_EQ(context_root->Evaluate(Doc(), Context())->dump(), Context().dump());
  Path default_path;
  EXPECT_EQ(default_path.text(), "$");
  EXPECT_TRUE(default_path.IsRoot());
  EXPECT_FALSE(default_path.IsContext());
  EXPECT_EQ(default_path.Evaluate(Json("[1]"), Context())->dump(), "[1]");
}

TEST(Path, ScalarDocumentsWork) {
  auto path = Path::Parse("$");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(path->Evaluate(Json("\"s\""), Value())->dump(), "\"s\"");
  EXPECT_EQ(path->Evaluate(Json("null"), Value())->dump(), "null");
  auto index = Path::Parse("$[1]");
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(index->Evaluate(Json("[5,6]"), Value())->dump(), "6");
}

TEST(Path, DefinitePathThatSelectsNothingIsRuntimeError) {
  for (const char* text : {"$.missing", "$.a.b[5]", "$.a.b[-4]", "$.s.x", "$.a.b.c", "$.a[0]",
                           "$.n.x", "$.missing['x','y']", "$$.Missing", "$$.Map.Item.Value.nope"}) {
    auto path = Path::Parse(text);
    ASSERT_TRUE(path.ok()) << text;
    EvalResult<Value> v = path->Evaluate(Doc(), Context());
    ASSERT_FALSE(v.ok()) << text;
    EXPECT_EQ(v.error().error, "States.Runtime") << text;
    EXPECT_NE(v.error().cause.find(std::string("The JSONPath '") + text + "'"), std::string::npos)
        << v.error().cause;
  }
}

TEST(Path, NotFoundCauseNamesPathAndInput) {
  auto path = Path::Parse("$.x");
  ASSERT_TRUE(path.ok());
  EvalResult<Value> v = path->Evaluate(Json(R"({"a":1})"), Value::object());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().cause, R"(The JSONPath '$.x' could not be found in the input '{"a":1}')");
  EXPECT_EQ(PathNotFoundCause("$.a", "x.$", Json("[1]")),
            "The JSONPath '$.a' specified for the field 'x.$' could not be found in the input "
            "'[1]'");
}

TEST(Path, NotFoundCauseTruncatesLargeInput) {
  Value big = Value::object();
  big["data"] = std::string(100000, 'x');
  auto path = Path::Parse("$.missing");
  ASSERT_TRUE(path.ok());
  EvalResult<Value> v = path->Evaluate(big, Value::object());
  ASSERT_FALSE(v.ok());
  EXPECT_LT(v.error().cause.size(), kMaxJsonInMessage + 200);
  EXPECT_NE(v.error().cause.find("...'"), std::string::npos);
}

struct DefiniteCase {
  const char* path;
  bool definite;
};

std::ostream& operator<<(std::ostream& os, const DefiniteCase& c) { return os << c.path; }

class PathDefinite : public testing::TestWithParam<DefiniteCase> {};

TEST_P(PathDefinite, FollowsJayway) {
  auto path = Path::Parse(GetParam().path);
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(path->IsDefinite(), GetParam().definite) << GetParam().path;
}

INSTANTIATE_TEST_SUITE_P(
    All, PathDefinite,
    testing::Values(DefiniteCase{"$", true}, DefiniteCase{"$.a", true},
                    DefiniteCase{"$['a'][0].b", true}, DefiniteCase{"$$.Execution.Id", true},
                    DefiniteCase{"$.a[-1]", true}, DefiniteCase{"$['a','b']", true},
                    DefiniteCase{"$[*]", false}, DefiniteCase{"$.*", false},
                    DefiniteCase{"$..a", false}, DefiniteCase{"$[0,1]", false},
                    DefiniteCase{"$[1:2]", false}, DefiniteCase{"$[?(@.a)]", false},
                    DefiniteCase{"$['a','b'].c", false}, DefiniteCase{"$.a[*].b", false}));

class PathParseError : public testing::TestWithParam<const char*> {};

TEST_P(PathParseError, IsRefusedWithAPosition) {
  auto path = Path::Parse(GetParam());
  ASSERT_FALSE(path.ok()) << GetParam();
  EXPECT_EQ(path.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(path.status().message().find("at character"), std::string::npos)
      << path.status().message();
}

INSTANTIATE_TEST_SUITE_P(All, PathParseError,
                         testing::Values("", "a.b", "$.", "$..", "$.a.", "$[", "$[0", "$['a",
                                         "$['a'", "$.a b", "$[1:2:3]", "$.a[?(@.a ==)]",
                                         "$[?(@.a =~ /x/)]", "$[?(@.a in ['x'])]", "$var",
                                         "$.length()", "$[abc]", "$[?(true)]", "$$$", "$x",
                                         "$[?(@.a", "$[?(@.a > 1]", "$['a',]", "$[0,]", "$[-]",
                                         R"($['\q'])", "$[?($$.a)]", "$.a]", "$[?(@.a === 1)]",
                                         "$[99999999999999999999]", "$[9223372036854775808]"));

TEST(Path, UnterminatedBracketIsReportedWhereItOpens) {
  auto path = Path::Parse("$.a[0");
  ASSERT_FALSE(path.ok());
  EXPECT_NE(path.status().message().find("at character 4"), std::string::npos)
      << path.status().message();
}

TEST(Path, VariablesAreRefusedWithAClearMessage) {
  auto path = Path::Parse("$myVar.x");
  ASSERT_FALSE(path.ok());
  EXPECT_NE(path.status().message().find("variables"), std::string::npos);
}

TEST(ReferencePath, AcceptsSingleNodePaths) {
  for (const char* text : {"$", "$.a.b", "$['a']['b']", "$.a[0][2].b", R"($['a.b\'c'])",
                           "$['a,b:c?d@*']", "$$.Execution.Input", "$.a[-1]"}) {
    auto path = Path::Parse(text, Path::Kind::kReferencePath);
    EXPECT_TRUE(path.ok()) << text << ": " << path.status().ToString();
  }
}

TEST(ReferencePath, RefusesAnythingThatCanSelectSeveralNodes) {
  for (const char* text :
       {"$.a[*]", "$.*", "$..a", "$.a[0,1]", "$.a[1:2]", "$.a[?(@.b)]", "$['a','b']", "$.a..[0]"}) {
    auto path = Path::Parse(text, Path::Kind::kReferencePath);
    ASSERT_FALSE(path.ok()) << text;
    EXPECT_EQ(path.status().code(), StatusCode::kInvalidArgument);
    // The same text is a valid Path.
    EXPECT_TRUE(Path::Parse(text).ok()) << text;
  }
}

TEST(Path, ExistsNeverFails) {
  struct Case {
    const char* path;
    bool exists;
  };
  for (const Case& c : std::vector<Case>{{"$.n", true},
                                         {"$.missing", false},
                                         {"$.a.b[5]", false},
                                         {"$.s.x", false},
                                         {"$.items[*]", true},
                                         {"$.missing[*]", false},
                                         {"$.items[?(@.price > 100)]", false},
                                         {"$$.Execution.Name", true},
                                         {"$$.Map.Item.Value.n", true},
                                         {"$$.Nope", false}}) {
    auto path = Path::Parse(c.path);
    ASSERT_TRUE(path.ok()) << c.path;
    EXPECT_EQ(path->Exists(Doc(), Context()), c.exists) << c.path;
  }
}

TEST(Path, SelectReturnsTheNodeItselfWithoutCopying) {
  auto path = Path::Parse("$.a.b[0]");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(path->Select(Doc(), Context()), &Doc()["a"]["b"][0]);
  auto context_path = Path::Parse("$$.Map.Item.Value");
  ASSERT_TRUE(context_path.ok());
  EXPECT_EQ(context_path->Select(Doc(), Context()), &Context()["Map"]["Item"]["Value"]);
  for (const char* text : {"$.missing", "$.items[*]", "$['s','n']"}) {
    auto other = Path::Parse(text);
    ASSERT_TRUE(other.ok());
    EXPECT_EQ(other->Select(Doc(), Context()), nullptr) << text;
  }
}

TEST(Path, CopiesShareTheCompiledForm) {
  auto path = Path::Parse("$.items[?(@.price > 10)].id");
  ASSERT_TRUE(path.ok());
  Path copy = *path;
  Path moved = std::move(copy);
  EXPECT_EQ(moved.text(), "$.items[?(@.price > 10)].id");
  EXPECT_EQ(moved.Evaluate(Doc(), Context())->dump(), R"(["b","c"])");
}

struct ResultPathCase {
  const char* raw;
  const char* path;
  const char* result;
  const char* expected;  // nullptr: States.ResultPathMatchFailure
};

std::ostream& operator<<(std::ostream& os, const ResultPathCase& c) { return os << c.path; }

class ResultPath : public testing::TestWithParam<ResultPathCase> {};

TEST_P(ResultPath, MergesIntoRawInput) {
  const ResultPathCase& c = GetParam();
  auto path = Path::Parse(c.path, Path::Kind::kReferencePath);
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EvalResult<Value> out = ApplyResultPath(*path, Json(c.raw), Json(c.result));
  if (c.expected == nullptr) {
    ASSERT_FALSE(out.ok()) << out->dump();
    EXPECT_EQ(out.error().error, "States.ResultPathMatchFailure");
    EXPECT_NE(out.error().cause.find(c.path), std::string::npos) << out.error().cause;
  } else {
    ASSERT_TRUE(out.ok()) << out.error().cause;
    EXPECT_EQ(out->dump(), Json(c.expected).dump());
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, ResultPath,
    testing::Values(ResultPathCase{R"({"a":1})", "$", "5", "5"},
                    ResultPathCase{R"({"a":1})", "$", R"({"r":1})", R"({"r":1})"},
                    ResultPathCase{R"({"a":1})", "$.b", "5", R"({"a":1,"b":5})"},
                    ResultPathCase{R"({"a":1})", "$.a", R"({"x":1})", R"({"a":{"x":1}})"},
                    ResultPathCase{R"({"b":1,"a":2})", "$.b", "3", R"({"b":3,"a":2})"},
                    ResultPathCase{R"({"a":1})", "$.b.c.d", "5", R"({"a":1,"b":{"c":{"d":5}}})"},
                    ResultPathCase{R"({"a":{"k":1}})", "$.a.c", "2", R"({"a":{"k":1,"c":2}})"},
                    ResultPathCase{R"({"a":[1,2,3]})", "$.a[1]", "9", R"({"a":[1,9,3]})"},
                    ResultPathCase{R"({"a":[1,2,3]})", "$.a[-1]", "9", R"({"a":[1,2,9]})"},
                    ResultPathCase{R"({"a":[{"x":1}]})", "$.a[0].y", "2",
                                   R"({"a":[{"x":1,"y":2}]})"},
                    ResultPathCase{"[1,2]", "$[0]", "5", "[5,2]"},
                    ResultPathCase{R"({"a":1})", "$['x y']", "5", R"({"a":1,"x y":5})"},
                    ResultPathCase{R"({"a":1})", "$.n", "null", R"({"a":1,"n":null})"},
                    ResultPathCase{R"({"a":[1]})", "$.a[5]", "9", nullptr},
                    ResultPathCase{R"({"a":1})", "$.a.b", "2", nullptr},
                    ResultPathCase{R"({"a":null})", "$.a.b", "2", nullptr},
                    ResultPathCase{R"("str")", "$.a", "1", nullptr},
                    ResultPathCase{"null", "$.a", "1", nullptr},
                    ResultPathCase{"[1]", "$.a", "1", nullptr},
                    ResultPathCase{"{}", "$.a[0]", "1", nullptr},
                    ResultPathCase{R"({"a":{}})", "$.a[0]", "1", nullptr}));

TEST(ResultPath, RefusesContextAndIndefinitePaths) {
  auto context = Path::Parse("$$.a");
  ASSERT_TRUE(context.ok());
  EvalResult<Value> out = ApplyResultPath(*context, Json("{}"), Json("1"));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().error, "States.ResultPathMatchFailure");
  auto wildcard = Path::Parse("$.a[*]");
  ASSERT_TRUE(wildcard.ok());
  out = ApplyResultPath(*wildcard, Json(R"({"a":[1]})"), Json("1"));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().error, "States.ResultPathMatchFailure");
}

}  // namespace
}  // namespace sluice::asl
