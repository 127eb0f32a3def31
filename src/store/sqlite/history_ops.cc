#include "store/sqlite/history_ops.h"

#include <string>
#include <utility>

#include "store/sqlite/row_codec.h"
#include "store/sqlite/statements.h"
#include "store/varint.h"

namespace sluice::store::sqlite {
namespace {

Status Corrupt(int64_t run_seq, int64_t first_seq) {
  return Internal("history row (" + std::to_string(run_seq) + ", " + std::to_string(first_seq) +
                  ") is corrupt");
}

}  // namespace

void HistoryRowBuilder::Add(std::optional<int64_t> task_seq, int64_t type, State from, State to,
                            Micros at, std::string_view reason) {
  PutVarint(bytes_, task_seq.has_value() ? static_cast<uint64_t>(*task_seq) + 1 : 0);
  PutVarint(bytes_, static_cast<uint64_t>(type));
  PutVarint(bytes_, static_cast<uint64_t>(from));
  PutVarint(bytes_, static_cast<uint64_t>(to));
  PutVarint(bytes_, ZigZag(n_ == 0 ? at : at - last_at_));
  PutString(bytes_, reason);
  last_at_ = at;
  n_++;
}

void HistoryRowBuilder::Clear() {
  bytes_.clear();  // keeps the capacity
  n_ = 0;
  last_at_ = 0;
}

Status InsertHistoryRow(Connection& db, int64_t run_seq, int64_t first_seq,
                        const HistoryRowBuilder& row) {
  ASSIGN_OR_RETURN(Stmt insert, db.Prepare(sql::kInsertHistoryRow));
  RETURN_IF_ERROR(insert.BindInt(1, run_seq));
  RETURN_IF_ERROR(insert.BindInt(2, first_seq));
  RETURN_IF_ERROR(insert.BindInt(3, row.size()));
  RETURN_IF_ERROR(insert.BindBlobOrNull(4, row.bytes()));
  return insert.Run();
}

Status HistoryBuffer::Add(Connection& db, int64_t run_seq, std::optional<int64_t> task_seq,
                          int64_t type, State from, State to, Micros at, std::string_view reason) {
  auto [it, inserted] = index_.try_emplace(run_seq, used_);
  if (inserted) {
    ASSIGN_OR_RETURN(Stmt last, db.Prepare(sql::kLastHistorySeq));
    RETURN_IF_ERROR(last.BindInt(1, run_seq));
    ASSIGN_OR_RETURN(bool row, last.Step());
    int64_t first_seq = (row ? last.ColumnInt(0) : 0) + 1;
    if (used_ == runs_.size()) runs_.emplace_back();
    Run& r = runs_[used_++];
    r.run_seq = run_seq;
    r.first_seq = first_seq;
    r.row.Clear();
  }
  runs_[it->second].row.Add(task_seq, type, from, to, at, reason);
  return Status::Ok();
}

void HistoryBuffer::Clear() {
  used_ = 0;
  index_.clear();
}

HistoryBuffer& PendingHistory() {
  thread_local HistoryBuffer buffer;
  return buffer;
}

Status FlushPendingHistory(Connection& db) {
  HistoryBuffer& pending = PendingHistory();
  Status st;
  for (size_t i = 0; i < pending.used_ && st.ok(); ++i) {
    const HistoryBuffer::Run& r = pending.runs_[i];
    st = InsertHistoryRow(db, r.run_seq, r.first_seq, r.row);
  }
  pending.Clear();
  return st;
}

Result<std::vector<HistoryEvent>> ReadHistory(Connection& db, int64_t run_seq, int64_t after_seq,
                                              int64_t limit) {
  std::vector<HistoryEvent> events;
  if (limit < 1) return events;
  std::unordered_map<int64_t, std::string> task_ids;  // read on the first task event
  bool have_task_ids = false;
  ASSIGN_OR_RETURN(Stmt rows, db.Prepare(sql::kReadHistoryRows));
  RETURN_IF_ERROR(rows.BindInt(1, run_seq));
  RETURN_IF_ERROR(rows.BindInt(2, after_seq));
  while (static_cast<int64_t>(events.size()) < limit) {
    ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) break;
    const int64_t first_seq = rows.ColumnInt(0);
    const int64_t n = rows.ColumnInt(1);
    std::string_view in = rows.ColumnBlob(2);
    Micros at = 0;
    for (int64_t i = 0; i < n && static_cast<int64_t>(events.size()) < limit; ++i) {
      uint64_t task = 0, type = 0, from = 0, to = 0, dat = 0;
      std::string reason;
      if (!GetVarint(in, &task) || !GetVarint(in, &type) || !GetVarint(in, &from) ||
          !GetVarint(in, &to) || !GetVarint(in, &dat) || !GetString(in, &reason)) {
        return Corrupt(run_seq, first_seq);
      }
      at = i == 0 ? UnZigZag(dat) : at + UnZigZag(dat);
      const int64_t seq = first_seq + i;
      if (seq <= after_seq) continue;
      HistoryEvent e;
      e.seq = seq;
      if (task != 0) {
        if (!have_task_ids) {
          ASSIGN_OR_RETURN(Stmt ids, db.Prepare(sql::kTaskIdsOfRun));
          RETURN_IF_ERROR(ids.BindInt(1, run_seq));
          for (;;) {
            ASSIGN_OR_RETURN(bool id_row, ids.Step());
            if (!id_row) break;
            task_ids.emplace(ids.ColumnInt(0), ids.ColumnText(1));
          }
          have_task_ids = true;
        }
        auto id = task_ids.find(static_cast<int64_t>(task - 1));
        if (id != task_ids.end()) e.task_id = id->second;
      }
      e.type = std::string(HistoryTypeName(static_cast<int64_t>(type)));
      e.from = StateFromColumn(static_cast<int64_t>(from));
      e.to = StateFromColumn(static_cast<int64_t>(to));
      e.at = at;
      e.reason = std::move(reason);
      events.push_back(std::move(e));
    }
  }
  return events;
}

Status PackHistoryMigration(Connection& db) {
  {
    ASSIGN_OR_RETURN(Stmt old_rows,
                     db.Prepare("SELECT run_seq, seq, task_seq, type, from_state, to_state, at, "
                                "reason FROM history_v8 ORDER BY run_seq, seq"));
    HistoryRowBuilder row;
    int64_t run_seq = -1, first_seq = 0, next_seq = 0;
    for (;;) {
      ASSIGN_OR_RETURN(bool more, old_rows.Step());
      if (!more) break;
      int64_t rs = old_rows.ColumnInt(0), seq = old_rows.ColumnInt(1);
      // A packed row holds consecutive seqs of one run.
      if (rs != run_seq || seq != next_seq) {
        if (row.size() > 0) RETURN_IF_ERROR(InsertHistoryRow(db, run_seq, first_seq, row));
        row.Clear();
        run_seq = rs;
        first_seq = seq;
      }
      next_seq = seq + 1;
      row.Add(old_rows.ColumnOptionalInt(2), old_rows.ColumnInt(3),
              StateFromColumn(old_rows.ColumnInt(4)), StateFromColumn(old_rows.ColumnInt(5)),
              old_rows.ColumnInt(6), old_rows.ColumnText(7));
    }
    if (row.size() > 0) RETURN_IF_ERROR(InsertHistoryRow(db, run_seq, first_seq, row));
  }
  return db.Exec("DROP TABLE history_v8");
}

}  // namespace sluice::store::sqlite
