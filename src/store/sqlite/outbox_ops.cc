#include "store/sqlite/outbox_ops.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <utility>

#include "store/sqlite/row_codec.h"
#include "store/varint.h"

namespace sluice::store::sqlite {
namespace {

// The SQL of the outbox lives here rather than in statements.h: nothing else runs it.
constexpr char kLastSeq[] = "SELECT last_seq FROM outbox_last WHERE one = 1";
constexpr char kSetLastSeq[] = "UPDATE outbox_last SET last_seq = ?1 WHERE one = 1";
constexpr char kInsertRow[] =
    "INSERT INTO outbox (first_seq, n, max_at, events) VALUES (?1, ?2, ?3, ?4)";
constexpr char kOldestRows[] = "SELECT first_seq, n, max_at FROM outbox ORDER BY first_seq";
constexpr char kDeleteRowsThrough[] = "DELETE FROM outbox WHERE first_seq <= ?1";
// From the row holding seq ?1 + 1 (or the oldest kept row) on.
constexpr char kReadRows[] =
    "SELECT first_seq, n, events FROM outbox WHERE first_seq >= "
    "coalesce((SELECT max(first_seq) FROM outbox WHERE first_seq <= ?1 + 1), 0) "
    "ORDER BY first_seq";
constexpr char kOldestSeq[] = "SELECT first_seq FROM outbox ORDER BY first_seq LIMIT 1";
// The run as it is now rides along for subscribers' filters.
constexpr char kRunForEvent[] = "SELECT state, user, workflow_type, tags FROM runs WHERE id = ?1";

std::string TypeName(uint64_t code) {
  if (code == kOutboxRunDeleted) return "RunDeleted";
  return std::string(HistoryTypeName(static_cast<int64_t>(code)));
}

// Decodes one event (without its seq or run fields).
bool DecodeEvent(std::string_view& in, ChangeEvent* e) {
  uint64_t type = 0, from = 0, to = 0, at = 0;
  if (!GetString(in, &e->run_id) || !GetString(in, &e->task_id) || !GetVarint(in, &type) ||
      !GetVarint(in, &from) || !GetVarint(in, &to) || !GetVarint(in, &at) ||
      !GetString(in, &e->reason)) {
    return false;
  }
  e->type = TypeName(type);
  e->from = StateFromColumn(static_cast<int64_t>(from));
  e->to = StateFromColumn(static_cast<int64_t>(to));
  e->at = UnZigZag(at);
  return true;
}

Result<int64_t> LastSeq(Connection& db) {
  ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(kLastSeq));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.ColumnInt(0) : 0;
}

}  // namespace

void OutboxBuffer::Add(std::string_view run_id, std::string_view task_id, int64_t type,
                       State from, State to, Micros at, std::string_view reason) {
  PutString(bytes_, run_id);
  PutString(bytes_, task_id);
  PutVarint(bytes_, static_cast<uint64_t>(type));
  PutVarint(bytes_, static_cast<uint64_t>(from));
  PutVarint(bytes_, static_cast<uint64_t>(to));
  PutVarint(bytes_, ZigZag(at));
  PutString(bytes_, reason);
  max_at_ = n_ == 0 ? at : std::max(max_at_, at);
  n_++;
}

void OutboxBuffer::Clear() {
  bytes_.clear();  // keeps the capacity: no allocation for the next write
  n_ = 0;
  max_at_ = 0;
}

OutboxBuffer& PendingOutbox() {
  thread_local OutboxBuffer buffer;
  return buffer;
}

Status FlushPendingOutbox(Connection& db) {
  OutboxBuffer& pending = PendingOutbox();
  if (pending.empty()) return Status::Ok();
  Status st = [&]() -> Status {
    ASSIGN_OR_RETURN(int64_t last, LastSeq(db));
    {
      ASSIGN_OR_RETURN(Stmt insert, db.Prepare(kInsertRow));
      RETURN_IF_ERROR(insert.BindInt(1, last + 1));
      RETURN_IF_ERROR(insert.BindInt(2, pending.n_));
      RETURN_IF_ERROR(insert.BindInt(3, pending.max_at_));
      RETURN_IF_ERROR(insert.BindBlobOrNull(4, pending.bytes_));
      RETURN_IF_ERROR(insert.Run());
    }
    ASSIGN_OR_RETURN(Stmt set, db.Prepare(kSetLastSeq));
    RETURN_IF_ERROR(set.BindInt(1, last + pending.n_));
    return set.Run();
  }();
  pending.Clear();
  return st;
}

Status PruneOutboxOp(Connection& db, Micros before, int limit, int64_t* deleted) {
  *deleted = 0;
  if (limit < 1) return Status::Ok();
  int64_t through = -1;
  {
    ASSIGN_OR_RETURN(Stmt oldest, db.Prepare(kOldestRows));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, oldest.Step());
      if (!row || oldest.ColumnInt(2) >= before) break;
      int64_t n = oldest.ColumnInt(1);
      if (*deleted > 0 && *deleted + n > limit) break;
      through = oldest.ColumnInt(0);
      *deleted += n;
      if (*deleted >= limit) break;
    }
  }
  if (through < 0) return Status::Ok();
  ASSIGN_OR_RETURN(Stmt del, db.Prepare(kDeleteRowsThrough));
  RETURN_IF_ERROR(del.BindInt(1, through));
  return del.Run();
}

Result<std::vector<ChangeEvent>> ReadOutboxRows(Connection& db, int64_t after_seq, int limit) {
  std::vector<ChangeEvent> events;
  if (limit < 1) return events;
  {
    ASSIGN_OR_RETURN(Stmt rows, db.Prepare(kReadRows));
    RETURN_IF_ERROR(rows.BindInt(1, after_seq));
    while (static_cast<int>(events.size()) < limit) {
      ASSIGN_OR_RETURN(bool row, rows.Step());
      if (!row) break;
      int64_t seq = rows.ColumnInt(0);
      int64_t n = rows.ColumnInt(1);
      std::string_view bytes = rows.ColumnBlob(2);
      for (int64_t i = 0; i < n && static_cast<int>(events.size()) < limit; ++i, ++seq) {
        ChangeEvent e;
        if (!DecodeEvent(bytes, &e)) return Internal("malformed outbox row " + std::to_string(seq));
        if (seq <= after_seq) continue;
        e.seq = seq;
        events.push_back(std::move(e));
      }
    }
  }
  // The runs' current fields, read once per run.
  struct RunFields {
    bool found = false;
    State state = State::kUnknown;
    std::string user;
    std::string workflow_type;
    StringMap tags;
  };
  std::unordered_map<std::string, RunFields> runs;
  ASSIGN_OR_RETURN(Stmt run, db.Prepare(kRunForEvent));
  for (ChangeEvent& e : events) {
    auto [it, inserted] = runs.try_emplace(e.run_id);
    RunFields& f = it->second;
    if (inserted) {
      run.Reset();
      RETURN_IF_ERROR(run.BindText(1, e.run_id));
      ASSIGN_OR_RETURN(bool found, run.Step());
      if (found) {
        f.found = true;
        f.state = StateFromColumn(run.ColumnInt(0));
        f.user = run.ColumnText(1);
        f.workflow_type = run.ColumnText(2);
        ASSIGN_OR_RETURN(f.tags, ReadTags(run, 3));
      }
    }
    if (!f.found) continue;
    e.run_state = f.state;
    e.user = f.user;
    e.workflow_type = f.workflow_type;
    e.tags = f.tags;
  }
  return events;
}

Result<OutboxBounds> ReadOutboxBounds(Connection& db) {
  OutboxBounds bounds;
  {
    ASSIGN_OR_RETURN(Stmt oldest, db.Prepare(kOldestSeq));
    ASSIGN_OR_RETURN(bool row, oldest.Step());
    if (row) bounds.oldest_seq = oldest.ColumnInt(0);
  }
  ASSIGN_OR_RETURN(bounds.last_seq, LastSeq(db));
  return bounds;
}

bool OutboxWatermark::Advanced(Connection& db) {
  Result<int64_t> last = LastSeq(db);
  // Can't tell: a spurious wake-up is harmless, a lost one is not.
  pending_ = last.ok() ? *last : -1;
  return !last.ok() || pending_ != last_;
}

}  // namespace sluice::store::sqlite
