#include "common/state.h"

#include <array>

namespace sluice {
namespace {
constexpr std::array<std::string_view, kStateCount> kNames = {
    "UNKNOWN",  "QUEUED",         "INITIALIZING", "RUNNING",   "PAUSED",   "COMPLETE",
    "EXECUTOR_ERROR", "SYSTEM_ERROR", "CANCELED", "CANCELING", "PREEMPTED"};
}  // namespace

std::string_view StateName(State s) {
  auto i = static_cast<size_t>(s);
  return i < kNames.size() ? kNames[i] : "UNKNOWN";
}

std::optional<State> ParseState(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<State>(i);
  }
  return std::nullopt;
}

bool IsTerminal(State s) {
  switch (s) {
    case State::kComplete:
    case State::kExecutorError:
    case State::kSystemError:
    case State::kCanceled:
    case State::kPreempted:
      return true;
    default:
      return false;
  }
}

int StateRank(State s) {
  switch (s) {
    case State::kUnknown: return 0;
    case State::kQueued: return 1;
    case State::kInitializing: return 2;
    case State::kRunning:
    case State::kPaused: return 3;
    case State::kCanceling: return 4;
    default: return 5;  // terminal
  }
}

bool IsForwardTransition(State from, State to) {
  if (IsTerminal(from)) return false;
  if ((from == State::kRunning && to == State::kPaused) ||
      (from == State::kPaused && to == State::kRunning)) {
    return true;
  }
  return StateRank(to) > StateRank(from);
}

}  // namespace sluice
