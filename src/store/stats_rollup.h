// Stats roll-ups as both store backends keep them: the totals of the runs that ended on one
// UTC day for one key (all runs, a user, a workflow type or a tag value), how a finished run
// is added to them, how rows are merged at query time, and the day arithmetic QueryStats uses.
// Keeping this here makes the SQLite store and the in-memory fake report the same numbers.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "common/clock.h"
#include "common/state.h"
#include "store/duration_histogram.h"
#include "store/run_store.h"

namespace sluice::store {

// The terminal states in roll-up column order.
inline constexpr std::array<State, 5> kRollupStates = {
    State::kComplete, State::kExecutorError, State::kSystemError, State::kCanceled,
    State::kPreempted};

struct StatsRollup {
  int64_t runs = 0;
  std::array<int64_t, kRollupStates.size()> by_state{};  // kRollupStates order
  int64_t tasks = 0;
  int64_t tasks_failed = 0;
  double cpu_seconds = 0;
  double memory_gb_seconds = 0;
  DurationHistogram run_durations;
  DurationHistogram task_durations;

  // Adds one run that entered terminal state `to`; `run_seconds` absent if it never started,
  // `usage` absent if it consumed nothing.
  void AddRun(State to, std::optional<double> run_seconds, const RunUsage* usage);
  void Merge(const StatsRollup& other);
  StatsGroup ToGroup(std::string key) const;
};

// Days since 1970-01-01 of `t` (UTC), rounding down for times before the epoch.
int64_t UtcDay(Micros t);
// "2026-11-30".
std::string FormatUtcDay(int64_t day);
// The days overlapping [from, to) as [first, end); first >= end when there are none.
std::pair<int64_t, int64_t> UtcDayRange(Micros from, Micros to);

// How a run's duration is counted: end - start in seconds, absent if it never started.
std::optional<double> RunSeconds(std::optional<Micros> start, Micros end);

// The roll-up key of a tag: its key and value, joined so that one tag key's values form one
// key range ([TagRollupPrefix(k), TagRollupPrefixEnd(k))).
std::string TagRollupKey(std::string_view key, std::string_view value);
// Whether a tag key gets roll-ups. Not `name`: it names one run, so its roll-ups would grow
// by a row per run (and a name tag is what the name filter of run lists is for).
inline bool IsRolledUpTag(std::string_view key) { return key != "name"; }
std::string TagRollupPrefix(std::string_view key);
std::string TagRollupPrefixEnd(std::string_view key);

}  // namespace sluice::store
