// The query planner behind SqliteRunStore::ListRuns and CountRuns.
//
// ListRuns picks one driving index for a RunListQuery from its filters, using the counts the
// triggers of migration 0004 maintain (run_state_counts, run_counts) to take the one with the
// fewest rows: the user (with the states: runs_by_user_state), the workflow type, one tag
// (run_tags), the states (runs_by_state), the name prefix (runs_by_name, only when few runs
// match: those rows are sorted in memory), or submission order itself. For the updated_at
// sorts it is runs_by_user_updated, runs_by_state_updated, runs_by_name or runs_by_updated.
// Every other filter is a residual predicate (tags: EXISTS on run_tags' primary key). The
// index is named with INDEXED BY, so SQLite cannot fall back to a table scan; it is walked in
// sort order by a co-routine (an inner query reading the index alone) that the outer query
// joins to runs by rowid, with no outer ORDER BY, so SQLite never chooses to sort (which it
// otherwise may do when many residual predicates make it expect few rows). With several
// states and a state-keyed index, one index scan per state runs and the pages are merged in
// C++ by the sort key (no temp b-tree sort). Paging is keyset: (updated_at, seq) or seq.
//
// Submitted-time ranges are turned into seq bounds through runs_by_submitted, which assumes
// that submitted_at does not decrease as seq grows (the server stamps both at submission); the
// range is also applied as a residual predicate, so a run is never returned outside it.
//
// CountRuns reads only maintained counts: exact for no filter, or states plus at most one of
// {user, workflow_type, one tag}. Otherwise it estimates, assuming the filters independent:
// count(states) x product over the other filters of count(filter, states) / count(states);
// a submitted range scales by the share of seqs it covers, a name prefix by the share of
// runs (up to 10,000 looked at in runs_by_name) carrying it. exact=false then.
//
// Thread-safety: functions over one Connection; the caller owns the connection for the call.
// Statements are cached per SQL text by the Connection.
#pragma once

#include <string>
#include <vector>

#include "store/run_store.h"
#include "store/sqlite/connection.h"

namespace sluice::store::sqlite {

Result<RunPage> QueryRuns(Connection& db, const RunListQuery& query);
Result<RunCount> CountMatchingRuns(Connection& db, const RunFilter& filter);

// For tests: the SQL text of every index scan the planner may choose for `query` (one per
// candidate driving index), each as it would be prepared. Parameters are left unbound.
std::vector<std::string> CandidateRunScansForTesting(const RunListQuery& query);

}  // namespace sluice::store::sqlite
