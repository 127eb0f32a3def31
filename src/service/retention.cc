#include "service/retention.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "common/thread_name.h"

namespace sluice::service {

Micros RetentionRules::AgeFor(const store::EndedRun& run) const {
  // Among matching tag rules the longest age wins (0, keep, is the longest).
  std::optional<Micros> tag_age;
  for (const auto& [key, value] : run.tags) {
    auto it = by_tag.find({key, value});
    if (it == by_tag.end()) continue;
    Micros age = it->second;
    if (!tag_age.has_value()) {
      tag_age = age;
    } else if (*tag_age != 0 && (age == 0 || age > *tag_age)) {
      tag_age = age;
    }
  }
  if (tag_age.has_value()) return *tag_age;
  if (auto it = by_workflow_type.find(run.workflow_type); it != by_workflow_type.end()) {
    return it->second;
  }
  return default_age;
}

Micros RetentionRules::SmallestAge() const {
  Micros smallest = 0;
  auto consider = [&smallest](Micros age) {
    if (age > 0 && (smallest == 0 || age < smallest)) smallest = age;
  };
  consider(default_age);
  for (const auto& [tag, age] : by_tag) consider(age);
  for (const auto& [type, age] : by_workflow_type) consider(age);
  return smallest;
}

Result<std::pair<std::string, std::string>> ParseTagRule(const std::string& rule) {
  size_t colon = rule.find(':');
  if (colon == std::string::npos || colon == 0) {
    return InvalidArgument("retention tag rule \"" + rule + "\": must be key:value");
  }
  return std::make_pair(rule.substr(0, colon), rule.substr(colon + 1));
}

RetentionSweeper::RetentionSweeper(store::RunStore& store, RunService& runs, const Clock& clock,
                                   RetentionOptions options)
    : store_(store), runs_(runs), clock_(clock), options_(std::move(options)) {}

RetentionSweeper::~RetentionSweeper() { Stop(); }

Status RetentionSweeper::Start() {
  if ((options_.rules.empty() && options_.archive_after == 0) || thread_.joinable()) {
    return Status::Ok();
  }
  {
    MutexLock lock(mu_);
    stopping_ = false;
  }
  try {
    thread_ = std::thread([this] { Loop(); });
  } catch (const std::system_error& e) {
    return ResourceExhausted(std::string("retention: cannot start its thread: ") + e.what());
  }
  return Status::Ok();
}

void RetentionSweeper::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool RetentionSweeper::Pause(Micros d) {
  MutexLock lock(mu_);
  if (d > 0) {
    lock.WaitFor(cv_, std::chrono::microseconds(d),
                 [this]() NO_THREAD_SAFETY_ANALYSIS { return stopping_; });
  }
  return !stopping_;
}

void RetentionSweeper::Loop() {
  NameThisThread("retention");
  // The first pass soon after start (not at once: let the server settle).
  const Micros settle = 10 * kMicrosPerSecond;
  Micros next_sweep = options_.rules.empty()
                          ? std::numeric_limits<Micros>::max()
                          : clock_.Now() + std::min(options_.sweep_every, settle);
  Micros next_archive = options_.archive_after == 0
                            ? std::numeric_limits<Micros>::max()
                            : clock_.Now() + std::min(options_.archive_every, settle);
  while (Pause(std::max<Micros>(0, std::min(next_sweep, next_archive) - clock_.Now()))) {
    const Micros now = clock_.Now();
    if (now >= next_archive) {
      Result<int64_t> archived = ArchiveOnce();
      if (!archived.ok()) {
        spdlog::warn("retention: archiving failed: {}", archived.status().ToString());
      } else if (*archived > 0) {
        spdlog::debug("retention: archived {} ended runs", *archived);
      }
      next_archive = clock_.Now() + options_.archive_every;
    }
    if (now >= next_sweep) {
      Result<SweepResult> r = SweepOnce();
      if (!r.ok()) {
        spdlog::warn("retention: sweep failed: {}", r.status().ToString());
      } else if (r->deleted > 0 || r->failed > 0) {
        spdlog::info("retention: deleted {} expired runs ({} failed, {} examined)", r->deleted,
                     r->failed, r->examined);
      }
      next_sweep = clock_.Now() + options_.sweep_every;
    }
  }
}

Result<int64_t> RetentionSweeper::ArchiveOnce() {
  int64_t total = 0;
  if (options_.archive_after == 0) return total;
  const Micros before = clock_.Now() - options_.archive_after;
  const int batch = std::max(1, options_.archive_batch);
  while (true) {
    ASSIGN_OR_RETURN(int moved, store_.ArchiveEndedRuns(before, batch));
    total += moved;
    if (moved < batch) break;
    if (!Pause(options_.batch_pause)) break;
  }
  return total;
}

Result<SweepResult> RetentionSweeper::SweepOnce() {
  SweepResult result;
  const Micros smallest = options_.rules.SmallestAge();
  if (smallest == 0) return result;
  const Micros now = clock_.Now();
  store::EndedRunQuery q;
  q.ended_before = now - smallest;
  q.limit = std::max(1, options_.batch);
  while (true) {
    ASSIGN_OR_RETURN(std::vector<store::EndedRun> runs, store_.ListEndedRuns(q));
    for (const auto& run : runs) {
      ++result.examined;
      Micros age = options_.rules.AgeFor(run);
      if (age == 0 || run.end_time >= now - age) continue;
      Status st = runs_.DeleteRun(run.id);
      if (st.ok()) {
        ++result.deleted;
      } else if (st.code() != StatusCode::kNotFound) {
        ++result.failed;
        spdlog::warn("retention: deleting run {}: {}", run.id, st.ToString());
      }
    }
    if (static_cast<int>(runs.size()) < q.limit) break;
    q.after = store::RunCursor{runs.back().end_time, runs.back().seq};
    if (!Pause(options_.batch_pause)) break;
  }
  return result;
}

}  // namespace sluice::service
