#include "store/sqlite/maintenance_ops.h"

#include <limits>
#include <string>
#include <utility>

#include "store/sqlite/outbox_ops.h"
#include "store/sqlite/row_codec.h"
#include "store/sqlite/statements.h"

namespace sluice::store::sqlite {
namespace {

constexpr char kRunToDelete[] = "SELECT seq, state FROM runs WHERE id = ?1";
// Children first (history references tasks). Each is served by an index on run_seq.
constexpr const char* kDeleteChildren[] = {
    "DELETE FROM history WHERE run_seq = ?1",      // history_ops.h
    "DELETE FROM task_states WHERE run_seq = ?1",  // task_state_ops.h
    "DELETE FROM tasks WHERE run_seq = ?1",        // what never changes about a task
    "DELETE FROM run_events WHERE run_seq = ?1",   // the engine's log
    "DELETE FROM run_archive WHERE run_seq = ?1",  // archive_ops.h
};
constexpr char kDeleteRunRow[] = "DELETE FROM runs WHERE seq = ?1";
// Repeats the runs_ended index's expression and WHERE clause, which INDEXED BY requires (the
// planner would otherwise pick runs_by_state and sort every ended run).
constexpr char kListEndedRuns[] =
    "SELECT seq, id, coalesce(end_time, updated_at), workflow_type, tags "
    "FROM runs INDEXED BY runs_ended "
    "WHERE state >= 5 AND state <> 9 AND coalesce(end_time, updated_at) < ?1 "
    "AND coalesce(end_time, updated_at) >= ?2 "
    "AND (coalesce(end_time, updated_at) > ?2 OR seq > ?3) "
    "ORDER BY coalesce(end_time, updated_at), seq LIMIT ?4";

}  // namespace

Status DeleteRunOp(Connection& db, std::string_view run_id, Micros now) {
  int64_t seq = 0;
  State state = State::kUnknown;
  {
    ASSIGN_OR_RETURN(Stmt run, db.Prepare(kRunToDelete));
    RETURN_IF_ERROR(run.BindText(1, run_id));
    ASSIGN_OR_RETURN(bool found, run.Step());
    if (!found) return NotFound("run \"" + std::string(run_id) + "\" not found");
    seq = run.ColumnInt(0);
    state = StateFromColumn(run.ColumnInt(1));
  }
  if (!IsTerminal(state)) {
    return FailedPrecondition("run \"" + std::string(run_id) + "\" is " +
                              std::string(StateName(state)) + "; only ended runs can be deleted");
  }
  for (const char* text : kDeleteChildren) {
    ASSIGN_OR_RETURN(Stmt del, db.Prepare(text));
    RETURN_IF_ERROR(del.BindInt(1, seq));
    RETURN_IF_ERROR(del.Run());
  }
  ASSIGN_OR_RETURN(Stmt del, db.Prepare(kDeleteRunRow));
  RETURN_IF_ERROR(del.BindInt(1, seq));
  RETURN_IF_ERROR(del.Run());
  PendingOutbox().Add(run_id, "", kOutboxRunDeleted, state, State::kUnknown, now, "deleted");
  return Status::Ok();
}

Result<std::vector<EndedRun>> ListEndedRunRows(Connection& db, const EndedRunQuery& query) {
  std::vector<EndedRun> runs;
  if (query.limit < 1) return runs;
  ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(kListEndedRuns));
  RETURN_IF_ERROR(stmt.BindInt(1, query.ended_before));
  RETURN_IF_ERROR(
      stmt.BindInt(2, query.after ? query.after->key : std::numeric_limits<int64_t>::min()));
  RETURN_IF_ERROR(stmt.BindInt(3, query.after ? query.after->seq : 0));
  RETURN_IF_ERROR(stmt.BindInt(4, query.limit));
  for (;;) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    EndedRun r;
    r.seq = stmt.ColumnInt(0);
    r.id = stmt.ColumnText(1);
    r.end_time = stmt.ColumnInt(2);
    r.workflow_type = stmt.ColumnText(3);
    ASSIGN_OR_RETURN(r.tags, ReadTags(stmt, 4));
    runs.push_back(std::move(r));
  }
  return runs;
}

}  // namespace sluice::store::sqlite
