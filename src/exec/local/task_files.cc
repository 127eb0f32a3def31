#include "exec/local/task_files.h"

#include <cerrno>
#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/json.h"

namespace sluice::exec::local {

std::string SerializeExitRecord(const ExitRecord& record) {
  Json j = Json::object();
  j["exit_code"] = record.exit_code;
  j["signal"] = record.signal ? Json(*record.signal) : Json(nullptr);
  j["start_time"] = record.start_time;
  j["end_time"] = record.end_time;
  return j.dump() + "\n";
}

Result<ExitRecord> ParseExitRecord(std::string_view text) {
  ASSIGN_OR_RETURN(Json j, ParseJson(text, "exit_code"));
  if (!j.is_object()) return InvalidArgument("exit_code: not a JSON object");
  const auto integer = [&j](const char* key) -> const Json* {
    auto it = j.find(key);
    return it != j.end() && it->is_number_integer() ? &*it : nullptr;
  };
  const Json* code = integer("exit_code");
  const Json* start = integer("start_time");
  const Json* end = integer("end_time");
  if (code == nullptr || start == nullptr || end == nullptr) {
    return InvalidArgument("exit_code: exit_code, start_time and end_time must be integers");
  }
  ExitRecord record;
  record.exit_code = code->get<int>();
  record.start_time = start->get<Micros>();
  record.end_time = end->get<Micros>();
  if (const Json* sig = integer("signal")) {
    record.signal = sig->get<int>();
  } else if (auto it = j.find("signal"); it != j.end() && !it->is_null()) {
    return InvalidArgument("exit_code: signal must be an integer or null");
  }
  return record;
}

Result<pid_t> ParsePid(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || pid <= 1) {
    return InvalidArgument("pid file: not a pid: '" + std::string(text) + "'");
  }
  return pid;
}

namespace {

// Reads the pid file, waiting up to `wait` for a wrapper that holds the lock but has not
// written it yet. Bounded by a count of real sleeps, not by a Clock, so a frozen test clock
// cannot make it spin forever.
Result<pid_t> WaitForPid(const std::string& dir, Micros wait) {
  constexpr auto kStep = std::chrono::milliseconds(5);
  const std::string path = JoinPath(dir, kPidFile);
  for (Micros waited = 0;; waited += 5000) {
    Result<std::string> text = ReadFile(path);
    if (text.ok()) return ParsePid(*text);
    if (text.status().code() != StatusCode::kNotFound) return text.status();
    if (waited >= wait) {
      return Unavailable(dir + ": task wrapper is starting (lock held, no pid file yet)");
    }
    std::this_thread::sleep_for(kStep);
  }
}

}  // namespace

Result<TaskObservation> ObserveTask(const std::string& dir, bool want_pidfd, Micros pid_wait) {
  TaskObservation obs;
  const std::string lock_path = JoinPath(dir, kLockFile);
  const std::string pid_path = JoinPath(dir, kPidFile);
  if (ProbeLock(lock_path) == LockState::kHeld) {
    ASSIGN_OR_RETURN(pid_t pid, WaitForPid(dir, pid_wait));
    UniqueFd pidfd(want_pidfd ? PidfdOpen(pid) : -1);
    // Held before and after pidfd_open: the wrapper was alive in between, so the pidfd
    // names it and not a process that reused its pid.
    if (ProbeLock(lock_path) == LockState::kHeld) {
      obs.kind = TaskObservation::Kind::kRunning;
      obs.pid = pid;
      obs.pidfd = std::move(pidfd);
      obs.cancel_requested = PathExists(JoinPath(dir, kCancelRequestedFile));
      obs.start_time = FileMtime(pid_path);
      return obs;
    }
  }
  return ObserveEndedTask(dir);
}

Result<TaskObservation> ObserveEndedTask(const std::string& dir) {
  // No wrapper is alive. It writes exit_code before it releases the lock, so an exit_code
  // that is missing now will never appear.
  TaskObservation obs;
  const std::string pid_path = JoinPath(dir, kPidFile);
  obs.cancel_requested = PathExists(JoinPath(dir, kCancelRequestedFile));
  if (Result<std::string> text = ReadFile(pid_path); text.ok()) {
    if (Result<pid_t> pid = ParsePid(*text); pid.ok()) obs.pid = *pid;
    obs.start_time = FileMtime(pid_path);
  } else if (text.status().code() != StatusCode::kNotFound) {
    return text.status();
  }
  Result<std::string> exit_text = ReadFile(JoinPath(dir, kExitCodeFile));
  if (exit_text.ok()) {
    obs.kind = TaskObservation::Kind::kEnded;
    Result<ExitRecord> record = ParseExitRecord(*exit_text);
    if (record.ok()) {
      obs.exit = *record;
    } else {
      obs.exit_error = record.status();
    }
    return obs;
  }
  if (exit_text.status().code() != StatusCode::kNotFound) return exit_text.status();
  const bool started =
      obs.pid.has_value() || PathExists(pid_path) || PathExists(JoinPath(dir, kLockFile));
  obs.kind = started ? TaskObservation::Kind::kVanished : TaskObservation::Kind::kNoTrace;
  return obs;
}

}  // namespace sluice::exec::local
