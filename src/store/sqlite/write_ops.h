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
// `cmd` and `logs` are the task's lists already encoded (EncodeStringList).
Status CreateTaskOp(Connection& db, const TaskRecord& task, const std::string& cmd,
                    const std::string& logs, bool* created);
Status TransitionTaskOp(Connection& db, const TaskTransition& t, TransitionOutcome* out);
Status ClaimRunsOp(Connection& db, const ClaimRequest& req, std::vector<RunRecord>* out);
Status AppendRunEventsOp(Connection& db, std::string_view run_id,
                         const std::vector<RunEvent>& events, int64_t* last_seq);
Status RenewLeasesOp(Connection& db, std::string_view owner, Micros lease_until);

}  // namespace sluice::store::sqlite
