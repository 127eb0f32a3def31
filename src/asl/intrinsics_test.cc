#include "asl/intrinsics.h"

#include <gtest/gtest.h>

#include <ostream>
#include <regex>
#include <set>
#include <string>

namespace sluice::asl {
namespace {

Value Json(const char* text) { return Value::parse(text); }

// Inputs mostly from the examples of the AWS developer guide and the States Language spec.
const Value& Input() {
  static const Value input = Json(R"({
    "name": "Arnav",
    "template": "Hello, my name is {}.",
    "braces": "{}",
    "escapedJsonString": "{\"foo\": \"bar\"}",
    "unescapedJson": {"name": "Foo", "year": 2020},
    "Id": 123456,
    "inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9],
    "dupes": [1, 2, 3, 3, 3, 3, 3, 3, 4],
    "mixed": [{"a": 1, "b": 2}, {"b": 2, "a": 1}, "x", 1, "x", [1], 1.0, null, null],
    "empty": [],
    "lookingFor": 5,
    "index": 5,
    "input": "Data to encode",
    "base64": "RGF0YSB0byBlbmNvZGU=",
    "Data": "input data",
    "Algorithm": "SHA-1",
    "json1": {"a": {"a1": 1, "a2": 2}, "b": 2},
    "json2": {"a": {"a3": 1, "a4": 2}, "c": 3},
    "value1": 111,
    "step": -1,
    "inputString": "1,2,3,4,5",
    "splitter": ",",
    "newlines": "split on T and \nnew line",
    "items": [{"id": "a,b"}, {"id": "c"}],
    "flag": true
  })");
  return input;
}

const Value& Context() {
  static const Value context =
      Json(R"({"Execution": {"Name": "run-1"}, "Map": {"Item": {"Index": 2}}})");
  return context;
}

EvalResult<Value> Eval(const std::string& text, uint64_t seed = 1) {
  auto call = Intrinsic::Parse(text);
  if (!call.ok()) return ErrorInfo{"ParseError", call.status().message()};
  Random random(seed);
  return call->Evaluate(Input(), Context(), random);
}

struct Case {
  const char* expr;
  const char* expected;  // JSON text; nullptr: States.IntrinsicFailure
};

// Names the case in gtest's output.
std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.expr; }

class IntrinsicEval : public testing::TestWithParam<Case> {};

TEST_P(IntrinsicEval, GivesTheDocumentedResult) {
  const Case& c = GetParam();
  EvalResult<Value> v = Eval(c.expr);
  if (c.expected == nullptr) {
    ASSERT_FALSE(v.ok()) << c.expr << " gave " << v->dump();
    EXPECT_EQ(v.error().error, "States.IntrinsicFailure") << c.expr << ": " << v.error().cause;
    // The cause names the function.
    std::string expr = c.expr;
    EXPECT_NE(v.error().cause.find("States."), std::string::npos) << v.error().cause;
  } else {
    ASSERT_TRUE(v.ok()) << c.expr << ": " << v.error().error << " " << v.error().cause;
    EXPECT_EQ(v->dump(), Json(c.expected).dump()) << c.expr;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Format, IntrinsicEval,
    testing::Values(
        Case{"States.Format('Hello, my name is {}.', $.name)", R"("Hello, my name is Arnav.")"},
        Case{"States.Format($.template, $.name)", R"("Hello, my name is Arnav.")"},
        Case{"States.Format('{} {} {} {}', 1, 2.5, true, null)", R"("1 2.5 true null")"},
        Case{"States.Format('{}{}', $.Id, $.name)", R"("123456Arnav")"},
        Case{R"(States.Format('escaped \{\} and {}', 'x'))", R"("escaped {} and x")"},
        Case{R"(States.Format('it\'s {}', $.name))", R"("it's Arnav")"},
        Case{R"(States.Format('a\\b {}', 1))", R"("a\\b 1")"},
        Case{R"(States.Format('{ alone } {}', 1))", R"("{ alone } 1")"},
        Case{"States.Format('s3://b/executions/{}/work/', $$.Execution.Name)",
             R"("s3://b/executions/run-1/work/")"},
        // A value is inserted as is: braces in it are not placeholders.
        Case{"States.Format('<{}>', $.braces)", R"("<{}>")"},
        Case{"States.Format('{}-{}', States.ArrayLength($.inputArray), States.MathAdd(1, 2))",
             R"("9-3")"},
        Case{"States.Format('plain')", R"("plain")"},
        Case{"States.Format('{}', $.unescapedJson)", nullptr},
        Case{"States.Format('{}', $.inputArray)", nullptr},
        Case{"States.Format($.template)", nullptr},
        Case{"States.Format($.template, 1, 2)", nullptr}, Case{"States.Format($.Id)", nullptr}));

INSTANTIATE_TEST_SUITE_P(
    Json, IntrinsicEval,
    testing::Values(
        Case{"States.StringToJson($.escapedJsonString)", R"({"foo":"bar"})"},
        Case{"States.StringToJson('[1, 2]')", "[1,2]"}, Case{"States.StringToJson('{}')", "{}"},
        Case{"States.StringToJson('\"s\"')", R"("s")"},
        Case{"States.StringToJson('{bad')", nullptr}, Case{"States.StringToJson('')", nullptr},
        Case{"States.StringToJson($.inputArray)", nullptr},
        Case{"States.JsonToString($.unescapedJson)", R"("{\"name\":\"Foo\",\"year\":2020}")"},
        Case{"States.JsonToString($.inputArray)", R"("[1,2,3,4,5,6,7,8,9]")"},
        Case{"States.JsonToString($.name)", R"("\"Arnav\"")"},
        Case{"States.JsonToString($$.Map.Item)", R"("{\"Index\":2}")"},
        Case{"States.JsonMerge($.json1, $.json2, false)", R"({"a":{"a3":1,"a4":2},"b":2,"c":3})"},
        Case{"States.JsonMerge($.json1, $.json2, true)", nullptr},
        Case{"States.JsonMerge($.json1, $.inputArray, false)", nullptr},
        Case{"States.JsonMerge($.name, $.json2, false)", nullptr},
        Case{"States.JsonMerge($.json1, $.json2, 'false')", nullptr}));

INSTANTIATE_TEST_SUITE_P(
    Arrays, IntrinsicEval,
    testing::Values(
        Case{"States.Array($.Id)", "[123456]"},
        Case{"States.Array('Foo', 2020, $.unescapedJson, null)",
             R"(["Foo",2020,{"name":"Foo","year":2020},null])"},
        Case{"States.Array()", "[]"}, Case{"States.Array( 1 , true ,false )", "[1,true,false]"},
        Case{"States.Array(-1.5, 1e2)", "[-1.5,100.0]"},
        Case{"States.Array($.items[?(@.id == 'a,b')].id)", R"([["a,b"]])"},
        Case{"States.Array($.items[*].id, $$.Map.Item.Index)", R"([["a,b","c"],2])"},
        Case{"States.ArrayPartition($.inputArray, 4)", "[[1,2,3,4],[5,6,7,8],[9]]"},
        Case{"States.ArrayPartition($.inputArray, 9)", "[[1,2,3,4,5,6,7,8,9]]"},
        Case{"States.ArrayPartition($.inputArray, 20)", "[[1,2,3,4,5,6,7,8,9]]"},
        Case{"States.ArrayPartition($.empty, 2)", "[]"},
        Case{"States.ArrayPartition($.inputArray, 0)", nullptr},
        Case{"States.ArrayPartition($.inputArray, -1)", nullptr},
        Case{"States.ArrayPartition($.inputArray, 1.5)", nullptr},
        Case{"States.ArrayPartition($.name, 2)", nullptr},
        Case{"States.ArrayContains($.inputArray, $.lookingFor)", "true"},
        Case{"States.ArrayContains($.inputArray, 10)", "false"},
        Case{"States.ArrayContains($.inputArray, 5.0)", "true"},
        Case{"States.ArrayContains($.inputArray, '5')", "false"},
        Case{"States.ArrayContains($.mixed, $.json1)", "false"},
        Case{"States.ArrayContains($.mixed, States.StringToJson('{\"b\":2,\"a\":1}'))", "true"},
        Case{"States.ArrayContains($.mixed, null)", "true"},
        Case{"States.ArrayContains($.name, 1)", nullptr},
        Case{"States.ArrayRange(1, 9, 2)", "[1,3,5,7,9]"},
        Case{"States.ArrayRange(1, 10, 2)", "[1,3,5,7,9]"},
        Case{"States.ArrayRange(9, 1, -2)", "[9,7,5,3,1]"},
        Case{"States.ArrayRange(1, 1, 1)", "[1]"}, Case{"States.ArrayRange(1, 0, 1)", "[]"},
        Case{"States.ArrayRange(-2, 2, 1)", "[-2,-1,0,1,2]"},
        Case{"States.ArrayRange(1, 3, 1.0)", "[1,2,3]"},
        Case{"States.ArrayRange(1, 2, 0)", nullptr}, Case{"States.ArrayRange(1.5, 2, 1)", nullptr},
        Case{"States.ArrayRange('1', 2, 1)", nullptr},
        Case{"States.ArrayRange(0, 1000, 1)", nullptr},
        Case{"States.ArrayRange(-9223372036854775807, 9223372036854775807, 1)", nullptr},
        Case{"States.ArrayGetItem($.inputArray, $.index)", "6"},
        Case{"States.ArrayGetItem($.inputArray, 0)", "1"},
        Case{"States.ArrayGetItem($.mixed, 0)", R"({"a":1,"b":2})"},
        Case{"States.ArrayGetItem($.inputArray, 9)", nullptr},
        Case{"States.ArrayGetItem($.inputArray, -1)", nullptr},
        Case{"States.ArrayGetItem($.inputArray, 'x')", nullptr},
        Case{"States.ArrayGetItem($.unescapedJson, 0)", nullptr},
        Case{"States.ArrayLength($.inputArray)", "9"}, Case{"States.ArrayLength($.empty)", "0"},
        Case{"States.ArrayLength($.unescapedJson)", nullptr},
        Case{"States.ArrayUnique($.dupes)", "[1,2,3,4]"},
        Case{"States.ArrayUnique($.mixed)", R"([{"a":1,"b":2},"x",1,[1],null])"},
        Case{"States.ArrayUnique($.empty)", "[]"}, Case{"States.ArrayUnique($.name)", nullptr}));

INSTANTIATE_TEST_SUITE_P(
    Encoding, IntrinsicEval,
    testing::Values(
        Case{"States.Base64Encode($.input)", R"("RGF0YSB0byBlbmNvZGU=")"},
        Case{"States.Base64Encode('')", R"("")"},
        Case{"States.Base64Encode('\xc3\xa9')", R"("w6k=")"},
        Case{"States.Base64Decode($.base64)", R"("Data to encode")"},
        Case{"States.Base64Decode('w6k=')", R"("\u00e9")"},
        Case{"States.Base64Decode('')", R"("")"}, Case{"States.Base64Decode('abc')", nullptr},
        Case{"States.Base64Decode('@@@@')", nullptr},
        Case{"States.Base64Decode('/w==')", nullptr},  // byte 0xFF is not UTF-8 text
        Case{"States.Base64Decode('YQ==')", R"("a")"},
        Case{"States.Base64Decode('YWI=')", R"("ab")"},
        Case{"States.Base64Decode('YQ=x')", nullptr}, Case{"States.Base64Decode('Y=Ex')", nullptr},
        Case{"States.Base64Decode('YQ')", nullptr}, Case{"States.Base64Encode($.Id)", nullptr},
        Case{"States.Hash($.Data, $.Algorithm)", R"("aaff4a450a104cd177d28d18d74485e8cae074b7")"},
        Case{"States.Hash($.Data, 'MD5')", R"("812f45842bc6d66ee14572ce20db8e86")"},
        Case{"States.Hash($.Data, 'SHA-256')",
             R"("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3")"},
        Case{
            "States.Hash($.Data, 'SHA-384')",
            R"("d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562")"},
        Case{
            "States.Hash($.Data, 'SHA-512')",
            R"("6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4")"},
        Case{"States.Hash('', 'SHA-256')",
             R"("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")"},
        Case{"States.Hash($.Data, 'SHA-2')", nullptr},
        Case{"States.Hash($.Data, 'sha-1')", nullptr}, Case{"States.Hash($.Id, 'MD5')", nullptr},
        Case{"States.Hash($.Data, 1)", nullptr}));

INSTANTIATE_TEST_SUITE_P(
    MathAndStrings, IntrinsicEval,
    testing::Values(
        Case{"States.MathAdd($.value1, $.step)", "110"}, Case{"States.MathAdd(-9, 3)", "-6"},
        // AWS rounds each argument to the nearest integer, halves up.
        Case{"States.MathAdd(1.49, 1.50)", "3"}, Case{"States.MathAdd(1.50, 1.51)", "4"},
        Case{"States.MathAdd(-1.49, -1.50)", "-2"}, Case{"States.MathAdd('1', 2)", nullptr},
        Case{"States.MathAdd(null, 2)", nullptr},
        Case{"States.MathAdd(9223372036854775807, 1)", nullptr},
        Case{"States.MathRandom(5, 5)", "5"}, Case{"States.MathRandom(10, 1)", nullptr},
        Case{"States.MathRandom('a', 2)", nullptr},
        Case{"States.StringSplit($.inputString, $.splitter)", R"(["1","2","3","4","5"])"},
        Case{"States.StringSplit('This.is+a,test=string', '.+,=')",
             R"(["This","is","a","test","string"])"},
        // Empty parts are dropped (as AWS does).
        Case{"States.StringSplit(' , ', ',')", R"([" "," "])"},
        Case{"States.StringSplit(',,,,', ',')", "[]"},
        Case{"States.StringSplit($.newlines, 'T\n')", R"(["split on "," and ","new line"])"},
        Case{"States.StringSplit('a\xc3\xa9z\xc3\xa8y', '\xc3\xa9')", "[\"a\",\"z\xc3\xa8y\"]"},
        Case{"States.StringSplit('abc', '')", R"(["abc"])"},
        Case{"States.StringSplit($.Id, ',')", nullptr},
        Case{"States.StringSplit('a', 1)", nullptr}));

TEST(Intrinsic, ArrayRangeAllowsExactlyOneThousandElements) {
  EvalResult<Value> v = Eval("States.ArrayRange(0, 999, 1)");
  ASSERT_TRUE(v.ok()) << v.error().cause;
  ASSERT_EQ(v->size(), 1000u);
  EXPECT_EQ((*v)[999], 999);
}

TEST(Intrinsic, EncodingLimitsAreTenThousandCharacters) {
  Value input = Value::object();
  input["ok"] = std::string(10000, 'a');
  input["long"] = std::string(10001, 'a');
  input["wide"] = std::string();
  for (int i = 0; i < 10000; ++i) input["wide"].get_ref<std::string&>() += "\xc3\xa9";
  Random random(1);
  auto eval = [&](const char* text) {
    auto call = Intrinsic::Parse(text);
    EXPECT_TRUE(call.ok()) << text;
    return call->Evaluate(input, Value::object(), random);
  };
  EXPECT_TRUE(eval("States.Base64Encode($.ok)").ok());
  EXPECT_TRUE(eval("States.Hash($.ok, 'SHA-256')").ok());
  // Characters, not bytes: 10,000 two-byte characters are within the limit.
  EXPECT_TRUE(eval("States.Hash($.wide, 'SHA-256')").ok());
  for (const char* text : {"States.Base64Encode($.long)", "States.Hash($.long, 'MD5')",
                           "States.Base64Decode($.long)"}) {
    EvalResult<Value> v = eval(text);
    ASSERT_FALSE(v.ok()) << text;
    EXPECT_EQ(v.error().error, "States.IntrinsicFailure");
  }
}

TEST(Intrinsic, JsonMergeDoesNotChangeItsArguments) {
  Value input = Input();
  auto call = Intrinsic::Parse("States.JsonMerge($.json1, $.json2, false)");
  ASSERT_TRUE(call.ok());
  Random random(1);
  ASSERT_TRUE(call->Evaluate(input, Value::object(), random).ok());
  EXPECT_EQ(input.dump(), Input().dump());
}

TEST(Intrinsic, MissingPathArgumentIsRuntimeError) {
  EvalResult<Value> v = Eval("States.Format('{}', $.missing)");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().error, "States.Runtime");
  EXPECT_NE(v.error().cause.find("$.missing"), std::string::npos);
}

TEST(Intrinsic, MathRandomStaysInRangeAndFollowsTheRandomSource) {
  std::set<int64_t> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    EvalResult<Value> v = Eval("States.MathRandom(1, 10)", seed);
    ASSERT_TRUE(v.ok());
    ASSERT_TRUE(v->is_number_integer());
    int64_t n = v->get<int64_t>();
    EXPECT_GE(n, 1);
    EXPECT_LE(n, 10);  // both ends included
    seen.insert(n);
    EXPECT_EQ(Eval("States.MathRandom(1, 10)", seed)->dump(), v->dump());  // reproducible
  }
  EXPECT_EQ(seen.size(), 10u);
}

TEST(Intrinsic, MathRandomWithSeedIgnoresTheExecutionSource) {
  EvalResult<Value> a = Eval("States.MathRandom(0, 999, 3)", 1);
  EvalResult<Value> b = Eval("States.MathRandom(0, 999, 3)", 2);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->dump(), b->dump());
  int64_t n = a->get<int64_t>();
  EXPECT_GE(n, 0);
  EXPECT_LE(n, 999);
}

TEST(Intrinsic, UuidIsVersion4AndDrawnFromTheRandomSource) {
  const std::regex v4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  auto call = Intrinsic::Parse("States.UUID()");
  ASSERT_TRUE(call.ok());
  Random random(42);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    EvalResult<Value> v = call->Evaluate(Value::object(), Value::object(), random);
    ASSERT_TRUE(v.ok());
    ASSERT_TRUE(v->is_string());
    EXPECT_TRUE(std::regex_match(v->get<std::string>(), v4)) << v->get<std::string>();
    seen.insert(v->get<std::string>());
  }
  EXPECT_EQ(seen.size(), 100u);
  Random again(42);
  EXPECT_EQ(call->Evaluate(Value::object(), Value::object(), again)->get<std::string>(),
            Eval("States.UUID()", 42)->get<std::string>());
}

TEST(Random, IsSplitMix64) {
  // Reference outputs of splitmix64 from state 0.
  Random r(0);
  EXPECT_EQ(r.Next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(r.Next(), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(r.Next(), 0x06C45D188009454FULL);
  Random d(7);
  for (int i = 0; i < 1000; ++i) {
    double x = d.NextDouble();
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
  }
}

TEST(Intrinsic, NestingUpToTenIsAllowed) {
  auto nest = [](int depth) {
    std::string text;
    for (int i = 0; i < depth; ++i) text += "States.Array(";
    text += "1";
    for (int i = 0; i < depth; ++i) text += ")";
    return text;
  };
  EXPECT_TRUE(Intrinsic::Parse(nest(10)).ok());
  auto too_deep = Intrinsic::Parse(nest(11));
  ASSERT_FALSE(too_deep.ok());
  EXPECT_NE(too_deep.status().message().find("nested"), std::string::npos);
  // The nine-function example of the AWS developer guide (whose template has a third {}
  // without a value; AWS would fail it, so it is fixed here).
  auto example = Intrinsic::Parse(
      "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
      "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem("
      "States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), "
      "'.'), 1))");
  ASSERT_TRUE(example.ok()) << example.status().ToString();
  Random random(1);
  EvalResult<Value> v = example->Evaluate(
      Json(R"({"ImageRecipe": {"Arn": "arn:aws:imagebuilder:us-east-1:1:image-recipe/r/1.2.3"}})"),
      Value::object(), random);
  ASSERT_TRUE(v.ok()) << v.error().cause;
  EXPECT_EQ(v->get<std::string>(), "1.2");
}

class IntrinsicParseError : public testing::TestWithParam<const char*> {};

TEST_P(IntrinsicParseError, IsRefused) {
  auto call = Intrinsic::Parse(GetParam());
  ASSERT_FALSE(call.ok()) << GetParam();
  EXPECT_EQ(call.status().code(), StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(
    All, IntrinsicParseError,
    testing::Values("States.Formatt('x')", "States.Format('x'", "States.Format('x)",
                    R"(States.Format('a\nb'))", R"(States.Format('a\'))", "States.ArrayLength()",
                    "States.UUID(1)", "States.Format('{} {}', 1)", "States.Format('{}')",
                    "States.Format()", "States.Format(1)", "States.JsonMerge($.a, $.b)",
                    "States.MathRandom(1)", "States.MathRandom(1, 2, 3, 4)", "States.Array(1 2)",
                    "States.Array($.a b)", "States.UUID() x", "States.Array($.)",
                    "States.Array(foo)", "States.Array(,)", "States.Array(1,)", "States.Array(--1)",
                    "Format('x')", "States.Array", "States.Array($var)", "States.Array(1))", "$.a",
                    "States.Array('a' 'b')"));

TEST(Intrinsic, ParseErrorSaysWhatAndWhere) {
  auto call = Intrinsic::Parse("States.Format('abc, $.x)");
  ASSERT_FALSE(call.ok());
  EXPECT_NE(call.status().message().find("unterminated string at character 15"), std::string::npos)
      << call.status().message();
  auto unknown = Intrinsic::Parse("States.Formatt('x')");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown function 'States.Formatt'"), std::string::npos)
      << unknown.status().message();
}

TEST(Intrinsic, LooksLikeCall) {
  struct Case {
    const char* text;
    bool looks;
  };
  for (const Case& c : std::vector<Case>{{"States.Format(", true},
                                         {"States.UUID()", true},
                                         {"States.Nope(1)", true},
                                         {"States.", false},
                                         {"States.Format", false},
                                         {"States.(", false},
                                         {"$.a", false},
                                         {"Foo.Bar()", false},
                                         {"States.Fo rmat(", false},
                                         {" States.UUID()", false}}) {
    EXPECT_EQ(Intrinsic::LooksLikeCall(c.text), c.looks) << c.text;
  }
}

TEST(Intrinsic, KeepsItsTextAndCopiesShareIt) {
  auto call = Intrinsic::Parse("States.ArrayLength($.inputArray)");
  ASSERT_TRUE(call.ok());
  Intrinsic copy = *call;
  EXPECT_EQ(copy.text(), "States.ArrayLength($.inputArray)");
  Random random(1);
  EXPECT_EQ(copy.Evaluate(Input(), Context(), random)->dump(), "9");
  Intrinsic empty;
  EXPECT_EQ(empty.text(), "");
  EXPECT_FALSE(empty.Evaluate(Input(), Context(), random).ok());
}

}  // namespace
}  // namespace sluice::asl
