#include "asl/binding.h"

#include <gtest/gtest.h>

namespace sluice::asl {
namespace {

TEST(ParseBindings, ReadsResourceToCommandObject) {
  auto b = ParseBindings(R"({"arn:aws:states:::lambda:invoke": "./lambda.sh",
                             "arn:aws:lambda:us-east-1:1:function:f": "echo 1"})");
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(b->size(), 2u);
  EXPECT_EQ(b->at("arn:aws:states:::lambda:invoke"), "./lambda.sh");
}

TEST(ParseBindings, RefusesWhatIsNotAnObjectOfCommands) {
  struct Case {
    const char* text;
    const char* message_part;
  };
  const Case cases[] = {
      {"{", "invalid JSON"},
      {"[]", "must be a JSON object"},
      {R"({"r": 1})", "\"r\": the command must be a non-empty string"},
      {R"({"r": "  "})", "\"r\": the command must be a non-empty string"},
      {R"({"": "x"})", "must not be empty"},
  };
  for (const Case& c : cases) {
    auto b = ParseBindings(c.text);
    ASSERT_FALSE(b.ok()) << c.text;
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(b.status().message().find(c.message_part), std::string::npos) << b.status().message();
  }
}

TEST(ParseBindFlag, SplitsAtTheFirstEquals) {
  auto kv = ParseBindFlag("arn:aws:states:::x=A=1 ./run.sh");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->first, "arn:aws:states:::x");
  EXPECT_EQ(kv->second, "A=1 ./run.sh");
  for (const char* bad : {"noequals", "=cmd", "res=", "res= "}) {
    EXPECT_FALSE(ParseBindFlag(bad).ok()) << bad;
  }
}

TEST(BindingEnvironment, NamesResourceStateExecutionAndOneBasedAttempt) {
  auto env = BindingEnvironment("arn:r", "Align", "exec-1", 0);
  std::vector<std::pair<std::string, std::string>> expected = {{"SLUICE_RESOURCE", "arn:r"},
                                                               {"SLUICE_STATE_NAME", "Align"},
                                                               {"SLUICE_EXECUTION_NAME", "exec-1"},
                                                               {"SLUICE_ATTEMPT", "1"}};
  EXPECT_EQ(env, expected);
  EXPECT_EQ(BindingEnvironment("r", "s", "e", 2)[3].second, "3");
}

TEST(InterpretCommandOutcome, ExitZeroParsesStdoutAsTheResult) {
  struct Case {
    const char* stdout_text;
    const char* expected;
  };
  const Case cases[] = {
      {R"({"a": [1, 2]})", R"({"a": [1, 2]})"},
      {"  42\n", "42"},
      {"\"text\"\n", R"("text")"},
      {"", "null"},
      {" \n\t", "null"},
  };
  for (const Case& c : cases) {
    auto r = InterpretCommandOutcome({0, 0, c.stdout_text, "noise on stderr"});
    ASSERT_TRUE(r.ok()) << c.stdout_text;
    EXPECT_EQ(*r, Value::parse(c.expected)) << c.stdout_text;
  }
}

TEST(InterpretCommandOutcome, ExitZeroWithInvalidJsonFailsTheTask) {
  auto r = InterpretCommandOutcome({0, 0, "hello world\n", ""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().error, "States.TaskFailed");
  EXPECT_NE(r.error().cause.find("not JSON"), std::string::npos) << r.error().cause;
  EXPECT_NE(r.error().cause.find("hello world"), std::string::npos) << r.error().cause;
}

TEST(InterpretCommandOutcome, NonZeroExitUsesErrorAndCauseFromStdout) {
  auto r =
      InterpretCommandOutcome({3, 0, R"({"Error": "MyError", "Cause": "bad input"})", "trace"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), (ErrorInfo{"MyError", "bad input"}));

  r = InterpretCommandOutcome({1, 0, R"({"Error": "OnlyError"})", "trace"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), (ErrorInfo{"OnlyError", ""}));

  r = InterpretCommandOutcome({1, 0, R"({"Error": "E", "Cause": {"k": 1}})", ""});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), (ErrorInfo{"E", R"({"k":1})"}));
}

TEST(InterpretCommandOutcome, NonZeroExitOtherwiseFailsWithTheStderrTail) {
  struct Case {
    CommandOutcome outcome;
    ErrorInfo expected;
  };
  const Case cases[] = {
      {{2, 0, "", "line1\nboom\n"}, {"States.TaskFailed", "line1\nboom"}},
      {{2, 0, R"({"NoError": 1})", "boom"}, {"States.TaskFailed", "boom"}},
      {{2, 0, R"({"Error": 5})", "boom"}, {"States.TaskFailed", "boom"}},
      {{2, 0, "{not json", "boom"}, {"States.TaskFailed", "boom"}},
      {{7, 0, "", ""}, {"States.TaskFailed", "command exited with status 7"}},
      {{0, 9, "", ""}, {"States.TaskFailed", "command was killed by signal 9"}},
  };
  for (const Case& c : cases) {
    auto r = InterpretCommandOutcome(c.outcome);
    ASSERT_FALSE(r.ok()) << c.outcome.stderr_text;
    EXPECT_EQ(r.error(), c.expected);
  }
}

TEST(TailOf, KeepsTheLastLinesAndBytes) {
  EXPECT_EQ(TailOf("a\nb\nc\n", 2), "b\nc");
  EXPECT_EQ(TailOf("a\nb\nc", 5), "a\nb\nc");
  EXPECT_EQ(TailOf("\n\nonly\n\n", 20), "only");
  EXPECT_EQ(TailOf("", 20), "");
  EXPECT_EQ(TailOf("abcdef", 20, 3), "def");
  // A cut inside a two-byte character skips its continuation byte.
  EXPECT_EQ(TailOf("x\xC3\xA9y", 20, 2), "y");
  // Invalid UTF-8 becomes U+FFFD.
  EXPECT_EQ(TailOf("a\xFF", 20), "a\xEF\xBF\xBD");
}

TEST(ResourceNotBoundError, NamesTheResourceAndHowToBindIt) {
  ErrorInfo e = ResourceNotBoundError("arn:aws:states:::lambda:invoke", "Call");
  EXPECT_EQ(e.error, "Sluice.ResourceNotBound");
  EXPECT_NE(e.cause.find("\"arn:aws:states:::lambda:invoke\""), std::string::npos);
  EXPECT_NE(e.cause.find("\"Call\""), std::string::npos);
  EXPECT_NE(e.cause.find("--bind"), std::string::npos);
}

}  // namespace
}  // namespace sluice::asl
