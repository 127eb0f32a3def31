#include "asl/mock_config.h"

#include <gtest/gtest.h>

namespace sluice::asl {
namespace {

// The example of the AWS Step Functions Local documentation (MockConfigFile.json).
constexpr const char* kAwsExample = R"({
  "StateMachines": {
    "LambdaSQSIntegration": {
      "TestCases": {
        "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
        "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
        "HybridPath": {"LambdaState": "MockedLambdaSuccess"}
      }
    }
  },
  "MockedResponses": {
    "MockedLambdaSuccess": {
      "0": {"Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello"}}}
    },
    "LambdaMockedResourceNotReady": {
      "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"}}
    },
    "MockedSQSSuccess": {"0": {"Return": {"MessageId": "m-1"}}},
    "MockedLambdaRetry": {
      "0": {"Throw": {"Error": "Lambda.ResourceNotReadyException", "Cause": "not ready"}},
      "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
      "3": {"Return": {"StatusCode": 200}}
    }
  }
})";

MockConfig ParseOrDie(const char* text) {
  auto config = MockConfig::Parse(text);
  EXPECT_TRUE(config.ok()) << config.status().message();
  return std::move(config).value();
}

TEST(MockConfig, ParsesTheAwsExample) {
  MockConfig config = ParseOrDie(kAwsExample);
  EXPECT_EQ(config.StateMachines(), std::vector<std::string>{"LambdaSQSIntegration"});
  auto tc = config.FindTestCase("LambdaSQSIntegration", "HybridPath");
  ASSERT_TRUE(tc.ok()) << tc.status().message();
  EXPECT_TRUE(tc->Mocks("LambdaState"));
  EXPECT_FALSE(tc->Mocks("SQSState"));
  EXPECT_EQ(tc->MockedStates(), std::vector<std::string>{"LambdaState"});
}

TEST(MockTestCase, AnswersEachInvocationFromItsEntryOrRange) {
  MockConfig config = ParseOrDie(kAwsExample);
  auto tc = config.FindTestCase("LambdaSQSIntegration", "RetryPath");
  ASSERT_TRUE(tc.ok());
  struct Case {
    int64_t invocation;
    bool ok;
    const char* error;
  };
  const Case cases[] = {{0, false, "Lambda.ResourceNotReadyException"},
                        {1, false, "Lambda.TimeoutException"},
                        {2, false, "Lambda.TimeoutException"},
                        {3, true, ""}};
  for (const Case& c : cases) {
    auto r = tc->Respond("LambdaState", c.invocation);
    ASSERT_EQ(r.ok(), c.ok) << c.invocation;
    if (c.ok) {
      EXPECT_EQ(*r, Value::parse(R"({"StatusCode": 200})"));
    } else {
      EXPECT_EQ(r.error().error, c.error);
    }
  }
  auto timeout = tc->Respond("LambdaState", 1);
  EXPECT_EQ(timeout.error().cause, "Lambda timed out.");
}

TEST(MockTestCase, AnInvocationWithoutAnEntryIsARuntimeError) {
  MockConfig config = ParseOrDie(kAwsExample);
  auto tc = config.FindTestCase("LambdaSQSIntegration", "HappyPath");
  ASSERT_TRUE(tc.ok());
  auto r = tc->Respond("SQSState", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().error, "States.Runtime");
  EXPECT_NE(r.error().cause.find("MockedSQSSuccess"), std::string::npos) << r.error().cause;
  EXPECT_NE(r.error().cause.find("invocation 1"), std::string::npos) << r.error().cause;
}

TEST(MockConfig, FindsTheOnlyStateMachineWhateverItsName) {
  MockConfig config = ParseOrDie(kAwsExample);
  EXPECT_TRUE(config.FindTestCase("some-file-stem", "HappyPath").ok());
  auto missing_case = config.FindTestCase("LambdaSQSIntegration", "Nope");
  EXPECT_EQ(missing_case.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing_case.status().message().find("\"HappyPath\", \"RetryPath\""), std::string::npos)
      << missing_case.status().message();
}

TEST(MockConfig, NeedsTheNameWhenThereAreSeveralStateMachines) {
  MockConfig config = ParseOrDie(R"({
    "StateMachines": {"A": {"TestCases": {"T": {"S": "R"}}},
                      "B": {"TestCases": {"T": {}}}},
    "MockedResponses": {"R": {"0": {"Return": 1}}}})");
  auto a = config.FindTestCase("A", "T");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->state_machine(), "A");
  EXPECT_TRUE(a->Mocks("S"));
  auto b = config.FindTestCase("B", "T");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->Mocks("S"));
  auto c = config.FindTestCase("C", "T");
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("\"A\", \"B\""), std::string::npos);
}

TEST(MockConfig, ListsEveryProblemWithItsLocation) {
  auto config = MockConfig::Parse(R"({
    "StateMachines": {
      "M": {"TestCases": {"T": {"Run": "Missing", "Other": 3}}, "Extra": 1},
      "N": []
    },
    "MockedResponses": {
      "Empty": {},
      "Bad": {
        "x": {"Return": 1},
        "2-1": {"Return": 1},
        "0": {"Return": 1, "Throw": {"Error": "E"}},
        "1": {"Throw": {"Cause": 5}},
        "3-4": {"Return": 1},
        "4": {"Throw": {"Error": "E", "Extra": 1}}
      }
    },
    "MockedResponse": {}
  })");
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  const std::string& m = config.status().message();
  for (const char* expected : {
           "MockedResponse: unknown field",
           "MockedResponses.Empty: must be a non-empty object",
           "MockedResponses.Bad.x: an invocation must be a number",
           "MockedResponses.Bad.2-1: an invocation must be a number",
           "MockedResponses.Bad.0: must have exactly one of Return and Throw",
           "MockedResponses.Bad.1.Throw.Error: must be a non-empty string",
           "MockedResponses.Bad.1.Throw.Cause: must be a string",
           "MockedResponses.Bad.4.Throw.Extra: unknown field",
           "MockedResponses.Bad: invocation 4 has more than one response",
           "StateMachines.M.Extra: unknown field",
           "StateMachines.M.TestCases.T.Run: no mocked response named \"Missing\"",
           "StateMachines.M.TestCases.T.Other: must name a mocked response",
           "StateMachines.N: must be an object {\"TestCases\": {...}}",
       }) {
    EXPECT_NE(m.find(expected), std::string::npos) << expected << "\nin:\n" << m;
  }
}

TEST(MockConfig, RefusesInvalidJsonAndMissingSections) {
  EXPECT_FALSE(MockConfig::Parse("{").ok());
  auto empty = MockConfig::Parse("{}");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("MockedResponses: required"), std::string::npos);
  EXPECT_NE(empty.status().message().find("StateMachines: required"), std::string::npos);
}

}  // namespace
}  // namespace sluice::asl
