// The WES State enum shared by runs and tasks, and the rule that states only move forward.
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string_view>

namespace sluice {

enum class State {
  kUnknown = 0,
  kQueued,
  kInitializing,
  kRunning,
  kPaused,
  kComplete,
  kExecutorError,
  kSystemError,
  kCanceled,
  kCanceling,
  kPreempted,
};
inline constexpr int kStateCount = 11;

// The WES name: "QUEUED", "EXECUTOR_ERROR", ...
std::string_view StateName(State s);
std::optional<State> ParseState(std::string_view name);

bool IsTerminal(State s);

// Position in the forward order UNKNOWN < QUEUED < INITIALIZING < RUNNING|PAUSED < CANCELING
// < terminal. A transition is allowed only to a strictly later rank (RUNNING <-> PAUSED are
// the one same-rank exception), so a late or repeated event can never move a state back and
// a terminal state sticks.
int StateRank(State s);
bool IsForwardTransition(State from, State to);

}  // namespace sluice
