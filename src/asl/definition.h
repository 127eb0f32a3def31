// The parsed form of a state machine, and the parser/validator that builds it.
//
// ParseDefinition reads the JSON text, checks everything the States Language requires
// (asl-notes §1-§7: required and allowed fields per state type, Next/End rules, names unique
// across the whole machine and at most 80 characters, transitions only within a
// States block, ErrorEquals rules (States.ALL alone and last), Retry/Catch values, Choice
// rules with exactly one operator and the right operand types, Wait with exactly one of its
// four fields, Fail's Error/ErrorPath exclusivity, paths and reference paths compiled,
// payload templates compiled, every state reachable... ) and lists *every* problem with its
// JSON location, not just the first. Unreachable states and literal "....$" strings inside
// arrays are warnings.
//
// Thread-safety: a Definition is immutable after parsing and shared by all executions of it.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "asl/intrinsics.h"
#include "asl/path.h"
#include "asl/payload.h"
#include "asl/value.h"
#include "common/status.h"

namespace sluice::asl {

enum class StateType { kPass, kTask, kChoice, kWait, kSucceed, kFail, kParallel, kMap };
std::string_view StateTypeName(StateType type);  // "Pass", "Task", ...

// InputPath / OutputPath / ResultPath / ItemsPath / a Catcher's ResultPath: absent (the
// default "$" applies), explicitly null, or a path.
struct OptionalPath {
  enum class Kind { kAbsent, kNull, kSet };
  Kind kind = Kind::kAbsent;
  Path path;  // meaningful when kind == kSet
};

// A value given either literally or by a reference path (TimeoutSeconds /
// TimeoutSecondsPath, MaxConcurrency / MaxConcurrencyPath, ...).
template <typename T>
struct LiteralOrPath {
  std::optional<T> literal;
  std::optional<Path> path;
  bool present() const { return literal.has_value() || path.has_value(); }
};

// Fail's ErrorPath / CausePath: a reference path or an intrinsic call.
struct PathOrIntrinsic {
  std::optional<Path> path;
  std::optional<Intrinsic> intrinsic;
};

struct Retrier {
  std::vector<std::string> error_equals;
  double interval_seconds = 1;
  int max_attempts = 3;
  double backoff_rate = 2.0;
  std::optional<double> max_delay_seconds;
  bool jitter_full = false;  // JitterStrategy "FULL"
};

struct Catcher {
  std::vector<std::string> error_equals;
  std::string next;
  OptionalPath result_path;  // default "$"
};

// One Choice rule. A top-level rule has `next`; nested rules (inside And/Or/Not) do not.
struct ChoiceRule {
  enum class Op {
    kAnd, kOr, kNot,
    kStringEquals, kStringLessThan, kStringGreaterThan, kStringLessThanEquals,
    kStringGreaterThanEquals, kStringMatches,
    kNumericEquals, kNumericLessThan, kNumericGreaterThan, kNumericLessThanEquals,
    kNumericGreaterThanEquals,
    kBooleanEquals,
    kTimestampEquals, kTimestampLessThan, kTimestampGreaterThan, kTimestampLessThanEquals,
    kTimestampGreaterThanEquals,
    kIsNull, kIsPresent, kIsNumeric, kIsString, kIsBoolean, kIsTimestamp,
  };
  Op op = Op::kAnd;
  std::vector<ChoiceRule> children;  // And/Or: one or more; Not: exactly one
  Path variable;                     // data-test rules
  bool operand_is_path = false;      // the "...Path" form of the operator
  Value operand;                     // literal operand (string, number, bool; Is*: bool)
  Path operand_path;                 // when operand_is_path
  std::string next;                  // top-level rules only
};

struct StateMachine;

struct State {
  std::string name;
  StateType type = StateType::kPass;
  std::string location;  // "States.Align" or "States.Regions.ItemProcessor.States.Run"
  std::string comment;

  // Transitions. Choice, Succeed and Fail have neither.
  std::string next;
  bool end = false;

  // Input/output processing (only the fields the type allows are ever set).
  OptionalPath input_path;
  OptionalPath output_path;
  OptionalPath result_path;
  std::optional<PayloadTemplate> parameters;       // Pass, Task, Parallel
  std::optional<PayloadTemplate> result_selector;  // Task, Parallel, Map

  // Pass
  std::optional<Value> result;

  // Task
  std::string resource;
  LiteralOrPath<int64_t> timeout_seconds;    // no default: absent means wait forever
  LiteralOrPath<int64_t> heartbeat_seconds;
  std::optional<PayloadTemplate> credentials;

  // Task, Parallel, Map
  std::vector<Retrier> retry;
  std::vector<Catcher> catchers;

  // Choice
  std::vector<ChoiceRule> choices;
  std::string default_next;  // empty: none

  // Wait: exactly one of these four
  std::optional<double> seconds;
  std::optional<Path> seconds_path;
  std::optional<std::string> timestamp;  // RFC 3339, validated
  std::optional<Path> timestamp_path;

  // Fail
  std::optional<std::string> error;
  std::optional<std::string> cause;
  PathOrIntrinsic error_path;
  PathOrIntrinsic cause_path;

  // Parallel
  std::vector<std::unique_ptr<StateMachine>> branches;

  // Map (inline). `processor` comes from ItemProcessor or the legacy Iterator;
  // `item_selector` from ItemSelector or the legacy Parameters.
  std::unique_ptr<StateMachine> processor;
  OptionalPath items_path;
  std::optional<PayloadTemplate> item_selector;
  LiteralOrPath<int64_t> max_concurrency;  // 0 or absent: the engine default (40)
  LiteralOrPath<double> tolerated_failure_percentage;
  LiteralOrPath<int64_t> tolerated_failure_count;
};

// A States block with its StartAt: the whole machine, one Parallel branch or one Map
// processor.
struct StateMachine {
  std::string start_at;
  std::vector<std::unique_ptr<State>> states;  // document order
  std::unordered_map<std::string, const State*> by_name;
  const State* Find(const std::string& name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  }
  const State* start() const { return Find(start_at); }
};

struct Definition {
  StateMachine machine;
  std::string comment;
  std::string version = "1.0";
  std::optional<int64_t> timeout_seconds;  // whole execution
  std::vector<Problem> warnings;
};

// Parses and validates a definition. On any error: kInvalidArgument whose message lists every
// problem, one per line ("States.Align.Next: no state named \"Algn\""), and `problems` (if
// given) receives them all, warnings included. JSONata machines (QueryLanguage "JSONata")
// are refused with a clear message; so are distributed-Map-only fields this engine does not
// run (ItemReader, ResultWriter, ItemBatcher) and `.waitForTaskToken` resources.
Result<std::shared_ptr<const Definition>> ParseDefinition(std::string_view json_text,
                                                          std::vector<Problem>* problems = nullptr);

// An instant read from an ASL timestamp: seconds since the Unix epoch (UTC) and the
// fraction of a second in nanoseconds (digits beyond the ninth are dropped).
struct Instant {
  int64_t seconds = 0;
  int32_t nanos = 0;
  friend auto operator<=>(const Instant&, const Instant&) = default;
};

// Parses an RFC 3339 timestamp the way ASL requires it: "YYYY-MM-DDThh:mm:ss", an optional
// fraction, then "Z" or a "+hh:mm"/"-hh:mm" offset; uppercase T and Z only; calendar
// fields checked (no February 30). nullopt if `text` is not such a timestamp. Used for
// Wait.Timestamp, the Timestamp* Choice operators and IsTimestamp.
std::optional<Instant> ParseTimestamp(std::string_view text);

}  // namespace sluice::asl
