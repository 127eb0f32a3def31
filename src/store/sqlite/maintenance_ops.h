// The SQLite store's housekeeping: deleting an ended run with everything it owns (retention,
// DELETE /runs/{id}), listing ended runs by end time (what the retention sweeper examines) and
// in-flight tasks whose last change is old (what the reconciler asks executors about). The
// two lists are served by the partial indexes runs_ended and tasks_stale (0005_outbox_stats.sql).
//
// Thread-safety: DeleteRunOp on the writer thread only; the list functions take a connection
// the caller holds exclusively (a read-pool lease).
#pragma once

#include <string_view>
#include <vector>

#include "store/run_store.h"
#include "store/sqlite/connection.h"

namespace sluice::store::sqlite {

// Deletes the run's history, tasks, engine log, archive (compact storage), tag rows and the
// run row (the count triggers follow), and writes a RunDeleted outbox entry stamped `now`.
// Stats roll-ups are kept. kNotFound; kFailedPrecondition unless the run is terminal.
Status DeleteRunOp(Connection& db, std::string_view run_id, Micros now);

Result<std::vector<EndedRun>> ListEndedRunRows(Connection& db, const EndedRunQuery& query);

}  // namespace sluice::store::sqlite
