// The bodies of the SQLite run store's writes. Each runs on the writer thread inside an open
// transaction and savepoint (group_commit_writer.h); a non-OK result rolls back all it did.
// They read the current row on the write connection, so their checks and updates see every
// earlier write of the same batch.
//
// Thread-safety: writer thread only.
#pragma once

#include <vector>

#include "store/run_store.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/row_codec.h"

namespace sluice::store::sqlite {

Status CreateRunOp(Connection& db, const NewRun& run, const EncodedRequest& encoded,
                   CreateRunResult* out);
Status TransitionRunOp(Connection& db, const RunTransition& t, TransitionOutcome* out);
// Creates each task in order (RunStore::CreateTasks); `encoded[i]` is EncodeNewTasks' entry
// for tasks[i]. (*created)[i] tells whether tasks[i] was created. The tasks' state chunks are
// read and written once for the call, not once per task.
Status CreateTasksOp(Connection& db, const std::vector<TaskRecord>& tasks,
                     const std::vector<EncodedTask>& encoded, std::vector<bool>* created);
Status TransitionTaskOp(Connection& db, const TaskTransition& t, TransitionOutcome* out);
// Each entry as TransitionTaskOp, in order; a refused entry (kNotFound, kFailedPrecondition)
// gets its error in `out` and the rest go on. Any other error fails (and rolls back) them all.
Status TransitionTasksOp(Connection& db, const std::vector<TaskTransition>& ts,
                         std::vector<Result<TransitionOutcome>>* out);
Status ClaimRunsOp(Connection& db, const ClaimRequest& req, std::vector<RunRecord>* out);
Status AppendRunEventsOp(Connection& db, std::string_view run_id,
                         const std::vector<RunEvent>& events, int64_t* last_seq);
Status RenewLeasesOp(Connection& db, std::string_view owner, Micros lease_until);
// Sets/removes tags (run_tags rows, runs.tags, runs.name) with a TagsChanged history event
// when anything changed; `run_seq` gets the run's seq (to read it back).
Status UpdateTagsOp(Connection& db, std::string_view run_id, const StringMap& set,
                    const std::vector<std::string>& remove, Micros at, int64_t* run_seq);

}  // namespace sluice::store::sqlite
