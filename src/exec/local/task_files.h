// The files in a local task's work dir, shared by the local executor and the task wrapper,
// and how to read a task's state from them. The files are the executor's only durable
// state, which is what lets a restarted server find its tasks again:
//
//   lock              flock'ed by the task wrapper for its whole life (liveness)
//   pid               the wrapper's pid = the task's process group id, written before the
//                     task starts ("this task was started"; never started twice)
//   stdout, stderr    the task's output
//   exit_code         written atomically by the wrapper when the task ended (ExitRecord)
//   cancel_requested  written durably by Cancel, before any signal is sent
//   wrapper.log       the wrapper's own diagnostics
//
// Thread-safety: stateless functions.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "exec/local/posix_util.h"

namespace sluice::exec::local {

inline constexpr std::string_view kLockFile = "lock";
inline constexpr std::string_view kPidFile = "pid";
inline constexpr std::string_view kStdoutFile = "stdout";
inline constexpr std::string_view kStderrFile = "stderr";
inline constexpr std::string_view kExitCodeFile = "exit_code";
inline constexpr std::string_view kCancelRequestedFile = "cancel_requested";
inline constexpr std::string_view kWrapperLogFile = "wrapper.log";

// Contents of `exit_code`: {"exit_code": N, "signal": S|null, "start_time": us,
// "end_time": us}. A task killed by signal S has exit_code 128+S.
struct ExitRecord {
  int exit_code = 0;
  std::optional<int> signal;
  Micros start_time = 0;
  Micros end_time = 0;
};

std::string SerializeExitRecord(const ExitRecord& record);
// kInvalidArgument if `text` is not a well-formed record.
Result<ExitRecord> ParseExitRecord(std::string_view text);

// "123\n" -> 123. kInvalidArgument if malformed.
Result<pid_t> ParsePid(std::string_view text);

// What a work dir says about its task at one moment.
struct TaskObservation {
  enum class Kind {
    kNoTrace,   // no lock, pid or exit_code file: the executor never started it
    kRunning,   // the wrapper holds the lock
    kEnded,     // the wrapper recorded an exit status (or an unreadable one: exit_error)
    kVanished,  // started, but no wrapper is alive and no exit status was recorded
  };
  Kind kind = Kind::kNoTrace;
  std::optional<pid_t> pid;        // from the pid file, when present
  UniqueFd pidfd;                  // kRunning only, when requested and supported
  std::optional<ExitRecord> exit;  // kEnded with a readable record
  Status exit_error;               // kEnded with an unreadable record
  bool cancel_requested = false;
  std::optional<Micros> start_time;  // when the wrapper started (pid file mtime)
};

// Reads the state of the task in `dir`. With `want_pidfd`, a kRunning observation carries a
// pidfd that is guaranteed to name the wrapper (the lock is re-checked after opening it).
// If the lock is held but no pid file appears within `pid_wait`, the wrapper is just being
// started by someone else: kUnavailable. kIo on unexpected file system errors.
Result<TaskObservation> ObserveTask(const std::string& dir, bool want_pidfd, Micros pid_wait);

// The same for a task whose wrapper is known to be gone (its pidfd fired, or a probe found
// the lock free): reads the files without probing the lock, so a concurrent prober cannot
// make the task look alive. Never kRunning.
Result<TaskObservation> ObserveEndedTask(const std::string& dir);

}  // namespace sluice::exec::local
