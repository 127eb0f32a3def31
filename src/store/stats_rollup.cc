#include "store/stats_rollup.h"

#include <ctime>

namespace sluice::store {
namespace {
constexpr Micros kMicrosPerDay = 86400 * kMicrosPerSecond;
constexpr char kTagSeparator = '\x1f';  // unit separator: not in real tag keys
}  // namespace

void StatsRollup::AddRun(State to, std::optional<double> run_seconds, const RunUsage* usage) {
  runs++;
  for (size_t i = 0; i < kRollupStates.size(); ++i) {
    if (kRollupStates[i] == to) by_state[i]++;
  }
  if (run_seconds.has_value()) run_durations.Add(*run_seconds);
  if (usage == nullptr) return;
  tasks += usage->tasks;
  tasks_failed += usage->tasks_failed;
  cpu_seconds += usage->cpu_seconds;
  memory_gb_seconds += usage->memory_gb_seconds;
  for (double s : usage->task_seconds) task_durations.Add(s);
}

void StatsRollup::Merge(const StatsRollup& other) {
  runs += other.runs;
  for (size_t i = 0; i < by_state.size(); ++i) by_state[i] += other.by_state[i];
  tasks += other.tasks;
  tasks_failed += other.tasks_failed;
  cpu_seconds += other.cpu_seconds;
  memory_gb_seconds += other.memory_gb_seconds;
  run_durations.Merge(other.run_durations);
  task_durations.Merge(other.task_durations);
}

StatsGroup StatsRollup::ToGroup(std::string key) const {
  StatsGroup g;
  g.key = std::move(key);
  for (size_t i = 0; i < kRollupStates.size(); ++i) {
    if (by_state[i] > 0) g.runs_by_state[kRollupStates[i]] = by_state[i];
  }
  g.runs = runs;
  g.tasks = tasks;
  g.tasks_failed = tasks_failed;
  g.cpu_seconds = cpu_seconds;
  g.memory_gb_seconds = memory_gb_seconds;
  g.run_duration.count = run_durations.count();
  g.run_duration.p50_seconds = run_durations.Quantile(0.5);
  g.run_duration.p95_seconds = run_durations.Quantile(0.95);
  g.task_duration.count = task_durations.count();
  g.task_duration.p50_seconds = task_durations.Quantile(0.5);
  g.task_duration.p95_seconds = task_durations.Quantile(0.95);
  return g;
}

int64_t UtcDay(Micros t) {
  int64_t day = t / kMicrosPerDay;
  if (t % kMicrosPerDay < 0) day--;
  return day;
}

std::string FormatUtcDay(int64_t day) {
  std::time_t secs = static_cast<std::time_t>(day * 86400);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
  return buf;
}

std::pair<int64_t, int64_t> UtcDayRange(Micros from, Micros to) {
  if (to <= from) return {0, 0};
  return {UtcDay(from), UtcDay(to - 1) + 1};
}

std::optional<double> RunSeconds(std::optional<Micros> start, Micros end) {
  if (!start.has_value()) return std::nullopt;
  return static_cast<double>(end - *start) / kMicrosPerSecond;
}

std::string TagRollupKey(std::string_view key, std::string_view value) {
  std::string out(key);
  out.push_back(kTagSeparator);
  out.append(value);
  return out;
}

std::string TagRollupPrefix(std::string_view key) {
  std::string out(key);
  out.push_back(kTagSeparator);
  return out;
}

std::string TagRollupPrefixEnd(std::string_view key) {
  std::string out(key);
  out.push_back(kTagSeparator + 1);
  return out;
}

}  // namespace sluice::store
