// RetentionSweeper: deletes ended runs once they are older than their retention age.
//
// Rules: a default age, ages per tag (`key:value`) and per workflow type. The most specific
// rule that applies to a run wins: a tag rule, then its workflow type's, then the default
// (when several tag rules match, the longest age wins). An age of 0 keeps runs forever.
// A run's age counts from its end.
//
// Every `sweep_every` a thread walks the runs that ended before now minus the smallest age
// (RunStore::ListEndedRuns, in batches of `batch` with a short pause between batches so the
// API is never stalled) and deletes the expired ones through RunService::DeleteRun (store
// rows, then the run's directory).
//
// The same thread compacts: every `archive_every` it asks the store to move the tasks and
// history of runs that ended more than `archive_after` ago into compact storage
// (RunStore::ArchiveEndedRuns, `archive_batch` runs per transaction, pausing between them).
// That is what keeps an ended run with 10 tasks and its history under 1 KB.
//
// Thread-safety: thread-safe. Start/Stop from one thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>

#include "common/clock.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "service/run_service.h"
#include "store/run_store.h"

namespace sluice::service {

struct RetentionRules {
  Micros default_age = 0;                                      // 0: keep
  std::map<std::pair<std::string, std::string>, Micros> by_tag;  // (key, value) -> age
  std::map<std::string, Micros> by_workflow_type;

  // The age that applies to `run` (0: keep it).
  Micros AgeFor(const store::EndedRun& run) const;
  // The smallest non-zero age of any rule (0: every rule keeps runs, nothing to sweep).
  Micros SmallestAge() const;
  bool empty() const { return SmallestAge() == 0; }
};

// Parses a `key:value` tag rule name; kInvalidArgument for a missing colon or empty key.
Result<std::pair<std::string, std::string>> ParseTagRule(const std::string& rule);

struct RetentionOptions {
  RetentionRules rules;
  Micros sweep_every = 3600 * kMicrosPerSecond;
  int batch = 100;                  // runs examined per store read
  Micros batch_pause = 50'000;      // between two batches
  Micros archive_after = 600 * kMicrosPerSecond;  // 0: never archive
  Micros archive_every = 60 * kMicrosPerSecond;
  int archive_batch = 200;          // runs per ArchiveEndedRuns transaction
};

struct SweepResult {
  int64_t examined = 0;
  int64_t deleted = 0;
  int64_t failed = 0;
};

class RetentionSweeper {
 public:
  RetentionSweeper(store::RunStore& store, RunService& runs, const Clock& clock,
                   RetentionOptions options);
  ~RetentionSweeper();

  // Starts the sweeper thread (nothing to do, and no thread, when the rules keep all runs).
  Status Start();
  void Stop();

  // One full sweep now, on the calling thread (tests; the thread calls it too).
  Result<SweepResult> SweepOnce();
  // Archives every run ended before now - archive_after, on the calling thread; returns how
  // many runs it moved.
  Result<int64_t> ArchiveOnce();

 private:
  void Loop();
  // Sleeps up to `d`; false if stopping.
  bool Pause(Micros d);

  store::RunStore& store_;
  RunService& runs_;
  const Clock& clock_;
  const RetentionOptions options_;

  Mutex mu_;
  std::condition_variable cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sluice::service
