// The SQLite store's outbox (migrations/0005_outbox_stats.sql). The write ops add each
// history event (and DeleteRun its RunDeleted entry) to the writer thread's pending list
// (PendingOutbox); when a write succeeds, the writer's finish hook (FlushPendingOutbox) stores
// the list as one packed row inside the write's savepoint, and a failed write drops it. This
// file also reads, bounds and prunes the outbox, and tells the writer when a transaction added
// entries (OutboxWatermark).
//
// Thread-safety: PendingOutbox is per thread (the writer thread's is the one that matters);
// the *Op functions, FlushPendingOutbox and OutboxWatermark run on the writer thread only; the
// read functions take a connection the caller holds exclusively (a read-pool lease).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/state.h"
#include "store/run_store.h"
#include "store/sqlite/connection.h"

namespace sluice::store::sqlite {

// The stored type of a RunDeleted entry (the others are history type codes).
inline constexpr int64_t kOutboxRunDeleted = 100;

// Events of the current write, encoded as they will be stored.
class OutboxBuffer {
 public:
  void Add(std::string_view run_id, std::string_view task_id, int64_t type, State from, State to,
           Micros at, std::string_view reason);
  bool empty() const { return n_ == 0; }
  void Clear();

 private:
  friend Status FlushPendingOutbox(Connection& db);
  std::string bytes_;
  int64_t n_ = 0;
  Micros max_at_ = 0;
};

// This thread's pending events.
OutboxBuffer& PendingOutbox();
// Stores this thread's pending events as one row (nothing if none) and clears them.
Status FlushPendingOutbox(Connection& db);

// Deletes the oldest rows, whole, while all their events were written before `before`
// (only a prefix goes, so the kept entries stay contiguous), until about `limit` entries
// went (at least one row when limit >= 1).
Status PruneOutboxOp(Connection& db, Micros before, int limit, int64_t* deleted);

Result<std::vector<ChangeEvent>> ReadOutboxRows(Connection& db, int64_t after_seq, int limit);
Result<OutboxBounds> ReadOutboxBounds(Connection& db);

// Tells, just before a COMMIT, whether the transaction wrote outbox entries: compares the
// newest seq with the one at the last successful commit. Committed() is called once that
// COMMIT succeeded (a failed one leaves the old value in place).
class OutboxWatermark {
 public:
  bool Advanced(Connection& db);
  void Committed() { last_ = pending_; }

 private:
  int64_t last_ = -1;  // -1: not read yet (the first check reports a change)
  int64_t pending_ = -1;
};

}  // namespace sluice::store::sqlite
