// The SQLite store's stats roll-ups (table stats_rollup, migrations/0005_outbox_stats.sql):
// a run that enters a terminal state is added, inside the same transaction, to the rows of
// its end day for all runs, its user, its workflow type and each of its tags; QueryStats reads
// and merges those rows only (never runs or tasks). The arithmetic is store/stats_rollup.h.
//
// Thread-safety: AddRunToStatsOp on the writer thread only; QueryStatsRows takes a connection
// the caller holds exclusively (a read-pool lease).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "store/run_store.h"
#include "store/sqlite/connection.h"

namespace sluice::store::sqlite {

// Adds run `run_seq`, which just moved to terminal state `to`, to the roll-ups. `end` is its
// end time (or the transition's time); `start` absent if it never started.
Status AddRunToStatsOp(Connection& db, int64_t run_seq, State to, std::optional<Micros> start,
                       Micros end, const std::optional<RunUsage>& usage);

Result<std::vector<StatsGroup>> QueryStatsRows(Connection& db, const StatsQuery& query);

}  // namespace sluice::store::sqlite
