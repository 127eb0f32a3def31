// Internal to the definition parser: the problem collector and the checks that
// definition.cc (structure, fields, state types) shares with validate.cc (Choice rules,
// Retry/Catch, error names, timestamps, names and transitions across the whole machine).
//
// Not part of the engine's interface. Thread-safety: a ProblemSink belongs to one parse.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asl/definition.h"

namespace sluice::asl::internal {

// Collects every problem found while parsing, in the order found.
class ProblemSink {
 public:
  void Error(std::string location, std::string message) {
    problems_.push_back({std::move(location), std::move(message), false});
  }
  void Warning(std::string location, std::string message) {
    problems_.push_back({std::move(location), std::move(message), true});
  }
  bool HasErrors() const;
  std::vector<Problem>* problems() { return &problems_; }

 private:
  std::vector<Problem> problems_;
};

// "States.A" + "Next" -> "States.A.Next"; "" + "StartAt" -> "StartAt".
std::string Loc(const std::string& base, std::string_view field);
// "States.A.Retry" + 2 -> "States.A.Retry[2]".
std::string Idx(const std::string& base, size_t index);
// A short rendering of a JSON value for messages (long values are cut).
std::string Describe(const Value& value);
// The JSON type name used in messages: "a string", "an object", ...
std::string_view TypeName(const Value& value);

// The value of `key` in `object`, or nullptr when absent.
const Value* Field(const Value& object, std::string_view key);

// Field readers: absent -> false and nothing reported; present with the wrong type -> an
// error at `location` and false.
bool ReadString(const Value& value, const std::string& location, ProblemSink& sink,
                std::string* out);
bool ReadBool(const Value& value, const std::string& location, ProblemSink& sink, bool* out);
// An integer in [min, max] (JSON integer; 2.0 is not an integer, as in AWS).
bool ReadInteger(const Value& value, const std::string& location, int64_t min, ProblemSink& sink,
                 int64_t* out, int64_t max = std::numeric_limits<int64_t>::max());

// AWS's upper bound for most second counts and attempt counts (Retry, Wait, Task timeouts).
inline constexpr int64_t kMaxSeconds = 99999999;
// AWS's upper bound for a retrier's MaxDelaySeconds (one year and a day).
inline constexpr int64_t kMaxDelaySeconds = 31622400;

// Compiles a path; on failure reports "<what>" at `location`. Reference paths may not
// start with "$$" when `allow_context` is false (ResultPath).
std::optional<Path> CompilePath(const Value& value, const std::string& location, Path::Kind kind,
                                ProblemSink& sink, bool allow_context = true);

// Fail's ErrorPath / CausePath: an intrinsic call or a reference path.
bool CompilePathOrIntrinsic(const Value& value, const std::string& location, ProblemSink& sink,
                            PathOrIntrinsic* out);

// Choices: a non-empty array of top-level rules.
void ParseChoices(const Value& value, const std::string& location, ProblemSink& sink,
                  std::vector<ChoiceRule>* out);

void ParseRetry(const Value& value, const std::string& location, ProblemSink& sink,
                std::vector<Retrier>* out);
void ParseCatch(const Value& value, const std::string& location, ProblemSink& sink,
                std::vector<Catcher>* out);

// A user-visible error name in Fail.Error: not empty, not "States.*" unless predefined,
// not the States.ALL wildcard.
void CheckErrorName(const std::string& name, const std::string& location, ProblemSink& sink);

// After the whole tree is parsed: names unique across the machine and at most 80
// characters, StartAt/Next/Default/Catch targets in the same States block, unreachable
// states (warnings).
void CheckMachine(const StateMachine& root, ProblemSink& sink);

// Unknown-field check: every key of `object` not in `allowed` is reported at
// `<location>.<key>`, with a suggestion when an allowed field is close ("did you mean
// \"Next\"?"), or with the reason for fields this engine refuses (Assign, JSONata fields).
// `what` names the object in messages ("a Task state").
void CheckKnownFields(const Value& object, std::span<const std::string_view> allowed,
                      const std::string& location, std::string_view what, ProblemSink& sink);

}  // namespace sluice::asl::internal
