// Binding Task resources to local shell commands (`sluice asl run --bind/--bindings`, and
// the server's command bindings): the bindings file format, the environment a bound command
// gets, and how its exit status and output become the task's result or error.
//
// The contract of a bound command:
//   - it runs through `/bin/sh -c COMMAND` with the task's effective input as JSON on stdin
//     and SLUICE_RESOURCE, SLUICE_STATE_NAME, SLUICE_EXECUTION_NAME and SLUICE_ATTEMPT (1 on
//     the first attempt, 2 on the first retry: $$.State.RetryCount + 1) in its environment;
//   - exit 0: stdout is the result, parsed as JSON. Empty or all-white-space stdout is the
//     result null (like a Lambda function that returns nothing); stdout that is not JSON
//     fails the task with States.TaskFailed;
//   - non-zero exit (or death by a signal): the task fails. If stdout is a JSON object with a
//     string "Error" (and optionally "Cause": a string, or any JSON value, which is then
//     serialised), those are the error and the cause; otherwise the error is
//     States.TaskFailed and the cause the tail of stderr (its last 20 lines, at most 4 KiB),
//     or "command exited with status N" when stderr is empty.
//
// Thread-safety: pure functions over values.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asl/value.h"
#include "common/status.h"

namespace sluice::asl {

// The error of a Task whose resource is neither bound, mocked nor run natively.
inline constexpr std::string_view kResourceNotBound = "Sluice.ResourceNotBound";

// resource -> shell command.
using Bindings = std::map<std::string, std::string, std::less<>>;

// Parses a bindings file: a JSON object {"<resource>": "<shell command>", ...}. Resources and
// commands are non-empty strings. kInvalidArgument naming the problem
// ("bindings: \"arn:...\": the command must be a non-empty string").
Result<Bindings> ParseBindings(std::string_view json_text);

// Parses one `--bind RESOURCE=COMMAND` (split at the first '='; neither side empty).
Result<std::pair<std::string, std::string>> ParseBindFlag(std::string_view text);

// The variable naming the file a task touches to send a heartbeat (HeartbeatSeconds).
inline constexpr char kHeartbeatFileVariable[] = "SLUICE_HEARTBEAT_FILE";

// The environment variables a bound command gets on top of the driver's own.
std::vector<std::pair<std::string, std::string>> BindingEnvironment(std::string_view resource,
                                                                    std::string_view state_name,
                                                                    std::string_view execution_name,
                                                                    int attempt);

// How a bound command ended.
struct CommandOutcome {
  int exit_code = 0;    // meaningful when term_signal == 0
  int term_signal = 0;  // non-zero: killed by this signal
  std::string stdout_text;
  std::string stderr_text;
};

// The task's result (exit 0) or error (anything else), per the contract above.
EvalResult<Value> InterpretCommandOutcome(const CommandOutcome& outcome);

// The last `max_lines` lines of `text`, at most its last `max_bytes` bytes (not starting
// inside a UTF-8 character), without trailing white space; invalid UTF-8 is replaced by U+FFFD.
std::string TailOf(std::string_view text, size_t max_lines = 20, size_t max_bytes = 4096);

// Sluice.ResourceNotBound, the cause naming the resource, the state and how to bind it.
ErrorInfo ResourceNotBoundError(std::string_view resource, std::string_view state_name);

}  // namespace sluice::asl
