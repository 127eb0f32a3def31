// The SQLite store's history (the audit trail of runs and tasks), packed
// (migrations/0009_packed_history.sql): one row per run and write holds that write's events of
// the run, so a state sync batch of hundreds of task changes over a few dozen runs appends a
// few dozen rows, not one per event. The write ops add each event to the writer thread's
// pending buffer (PendingHistory), which numbers it (the run's last seq plus one); when the
// write succeeds, the writer's finish hook (FlushPendingHistory) stores one row per run inside
// the write's savepoint, and a failed write drops the buffer. Readers decode the rows
// (ReadHistory); the bulk importer and the migration build rows with HistoryRowBuilder.
//
// Thread-safety: PendingHistory is per thread (the writer thread's is the one that matters);
// Add and FlushPendingHistory run on the writer thread only; ReadHistory takes a connection
// the caller holds exclusively.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/state.h"
#include "store/run_store.h"
#include "store/sqlite/connection.h"

namespace sluice::store::sqlite {

// The encoded events of one packed row: per event (varints, strings length-prefixed): task
// seq plus one (0: a run-level event), type (history type code), from state, to state, at
// (zigzag, the first absolute, then the difference to the previous event's), reason.
class HistoryRowBuilder {
 public:
  void Add(std::optional<int64_t> task_seq, int64_t type, State from, State to, Micros at,
           std::string_view reason);
  int64_t size() const { return n_; }
  const std::string& bytes() const { return bytes_; }
  void Clear();

 private:
  std::string bytes_;
  int64_t n_ = 0;
  Micros last_at_ = 0;
};

// Stores a packed row: events first_seq .. first_seq + n - 1 of run `run_seq`.
Status InsertHistoryRow(Connection& db, int64_t run_seq, int64_t first_seq,
                        const HistoryRowBuilder& row);

// The history events of the current write, by run.
class HistoryBuffer {
 public:
  // Queues an event for run `run_seq`, numbered after the run's last; the first event of a
  // run in this write reads the run's last stored seq.
  Status Add(Connection& db, int64_t run_seq, std::optional<int64_t> task_seq, int64_t type,
             State from, State to, Micros at, std::string_view reason);
  bool empty() const { return used_ == 0; }
  void Clear();

 private:
  friend Status FlushPendingHistory(Connection& db);
  struct Run {
    int64_t run_seq = 0;
    int64_t first_seq = 0;
    HistoryRowBuilder row;
  };
  // runs_[0, used_) are this write's; the rest keep their capacity for the next write.
  std::vector<Run> runs_;
  size_t used_ = 0;
  std::unordered_map<int64_t, size_t> index_;  // run_seq -> position in runs_
};

// This thread's pending events.
HistoryBuffer& PendingHistory();
// Stores this thread's pending events, one row per run (nothing if none), and clears them.
Status FlushPendingHistory(Connection& db);

// The events of run `run_seq` with seq > after_seq, in order, at most `limit`; task ids are
// read from the run's task rows. run_id is left empty.
Result<std::vector<HistoryEvent>> ReadHistory(Connection& db, int64_t run_seq, int64_t after_seq,
                                              int64_t limit);

// Migration 0009: rewrites the rows of the old table (history_v8, one per event) into packed
// rows of `history`, one per run, then drops the old table.
Status PackHistoryMigration(Connection& db);

}  // namespace sluice::store::sqlite
