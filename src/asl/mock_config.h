// Mocked task responses in the format of AWS Step Functions Local's MockConfigFile.json, so
// users' existing test files work with `sluice asl run --mock-config FILE --test-case NAME`:
//
//   {"StateMachines": {"<machine>": {"TestCases": {"<case>": {"<TaskState>": "<response>"}}}},
//    "MockedResponses": {"<response>": {"0": {"Return": <result>},
//                                       "1-2": {"Throw": {"Error": "...", "Cause": "..."}}}}}
//
// A test case maps Task state names to mocked responses; a mocked response gives, for each
// invocation of the state (0-based, counting retries and every Map iteration, in the order
// they start), either the result (`Return`) or the error (`Throw`). Invocation keys are
// integers ("3") or inclusive ranges ("1-2") that must not overlap. As in AWS, an invocation
// with no entry fails the execution (States.Runtime); a state the test case does not name
// is not mocked (the driver runs it as it would without a mock config).
//
// Thread-safety: immutable after Parse; MockTestCase is a plain value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asl/value.h"
#include "common/status.h"

namespace sluice::asl {

// One "N" or "N-M" entry of a mocked response.
struct MockedInvocations {
  int64_t first = 0;
  int64_t last = 0;  // inclusive
  bool is_throw = false;
  Value result;     // Return
  ErrorInfo error;  // Throw
};

// The mocks of one test case.
class MockTestCase {
 public:
  MockTestCase() = default;

  // The name of the state machine in the file this test case belongs to.
  const std::string& state_machine() const { return state_machine_; }
  const std::string& name() const { return name_; }

  // True if the test case mocks `state_name`.
  bool Mocks(std::string_view state_name) const;
  // The state names the test case mocks, in file order.
  std::vector<std::string> MockedStates() const;

  // The response to invocation `invocation` (0-based) of `state_name`: the result for a
  // Return, the error for a Throw, States.Runtime naming the response and invocation when
  // the response has no entry for it. Requires Mocks(state_name).
  EvalResult<Value> Respond(std::string_view state_name, int64_t invocation) const;

 private:
  friend class MockConfig;
  struct Mock {
    std::string state;
    std::string response_name;
    std::vector<MockedInvocations> invocations;  // sorted by `first`
  };
  std::string state_machine_;
  std::string name_;
  std::vector<Mock> mocks_;  // file order
  std::map<std::string, size_t, std::less<>> by_state_;
};

class MockConfig {
 public:
  // Parses and validates a mock config. kInvalidArgument listing every problem found, one per
  // line, each with its location ("MockedResponses.Retry.1-2.Throw.Error: must be a string",
  // "StateMachines.M.TestCases.Happy.Run: no mocked response named \"Ok\"").
  static Result<MockConfig> Parse(std::string_view json_text);

  // State machine names, in file order.
  std::vector<std::string> StateMachines() const;

  // The test case `test_case` of the state machine called `state_machine_name`; if the file
  // has no state machine of that name but exactly one state machine, that one's. kNotFound
  // naming what exists otherwise.
  Result<MockTestCase> FindTestCase(std::string_view state_machine_name,
                                    std::string_view test_case) const;

 private:
  struct Machine {
    std::string name;
    std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>
        test_cases;  // case -> [(state, response name)], file order
  };
  std::vector<Machine> machines_;
  std::map<std::string, std::vector<MockedInvocations>, std::less<>> responses_;
};

}  // namespace sluice::asl
