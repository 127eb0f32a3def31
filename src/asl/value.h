// Values, errors and evaluation results shared by the whole ASL engine.
//
// ASL data is JSON. The engine keeps object members in document order (AWS keeps member
// order, e.g. in States.JsonToString and in outputs), so it uses nlohmann::ordered_json,
// named `Value` here to keep it apart from the rest of Sluice's `sluice::Json`.
//
// Errors raised while running a state carry an ASL error name ("States.Runtime",
// "States.TaskFailed", a user's "MyError") and a cause; `EvalResult<T>` holds either a value
// or such an error. Thread-safety: plain values.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sluice::asl {

using Value = nlohmann::ordered_json;

// Predefined error names (asl-notes §6).
namespace errors {
inline constexpr std::string_view kAll = "States.ALL";
inline constexpr std::string_view kTaskFailed = "States.TaskFailed";
inline constexpr std::string_view kTimeout = "States.Timeout";
inline constexpr std::string_view kHeartbeatTimeout = "States.HeartbeatTimeout";
inline constexpr std::string_view kRuntime = "States.Runtime";
inline constexpr std::string_view kNoChoiceMatched = "States.NoChoiceMatched";
inline constexpr std::string_view kParameterPathFailure = "States.ParameterPathFailure";
inline constexpr std::string_view kResultPathMatchFailure = "States.ResultPathMatchFailure";
inline constexpr std::string_view kIntrinsicFailure = "States.IntrinsicFailure";
inline constexpr std::string_view kBranchFailed = "States.BranchFailed";
inline constexpr std::string_view kExceedToleratedFailureThreshold =
    "States.ExceedToleratedFailureThreshold";
inline constexpr std::string_view kDataLimitExceeded = "States.DataLimitExceeded";
inline constexpr std::string_view kPermissions = "States.Permissions";
}  // namespace errors

// An ASL error: name and cause, as they appear in {"Error": ..., "Cause": ...}.
struct ErrorInfo {
  std::string error;
  std::string cause;
  friend bool operator==(const ErrorInfo&, const ErrorInfo&) = default;
};

// Either a T or an ErrorInfo.
template <typename T>
class [[nodiscard]] EvalResult {
 public:
  EvalResult(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  EvalResult(ErrorInfo error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return std::holds_alternative<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const ErrorInfo& error() const { return std::get<ErrorInfo>(v_); }

 private:
  std::variant<T, ErrorInfo> v_;
};

// True if a Retry/Catch ErrorEquals list matches `error`, with the AWS rules: States.ALL
// matches anything except States.Runtime and States.DataLimitExceeded; States.TaskFailed
// matches any error except States.Timeout (and the two above); otherwise exact names.
bool ErrorMatches(const std::vector<std::string>& error_equals, std::string_view error);

// True for the errors no Retry or Catch can handle (States.Runtime,
// States.DataLimitExceeded): they end the execution.
bool IsUncatchable(std::string_view error);

// JSON equality by value: numbers compare by value (1 == 1.0), objects compare by their set
// of members whatever their order, arrays element by element. (Value's own operator== is
// order-sensitive for objects, since Value keeps document order.)
bool JsonEquals(const Value& a, const Value& b);

// "null", "boolean", "number", "string", "array" or "object", for messages.
std::string_view JsonTypeName(const Value& v);

// Compact JSON text of `v` for an error cause or message, cut to about `max_bytes` (at a
// UTF-8 character boundary, then "...") so that a large input does not make a large cause.
// Never throws (invalid UTF-8 is replaced).
inline constexpr size_t kMaxJsonInMessage = 1024;
std::string JsonForMessage(const Value& v, size_t max_bytes = kMaxJsonInMessage);

// A problem found in a definition, with where it is: a dotted location from the document
// root ("States.Align.Next", "States.Regions.ItemProcessor.States.Run.Retry[0].BackoffRate").
// Warnings do not stop a definition from running.
struct Problem {
  std::string location;
  std::string message;
  bool warning = false;
  std::string ToString() const {
    return location.empty() ? message : location + ": " + message;
  }
};

}  // namespace sluice::asl
