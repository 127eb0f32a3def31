// Shared by the PostgreSQL store's files: the column lists its queries select, the readers
// that turn those rows into domain records, and the stats roll-up update.
//
// Thread-safety: pure functions over one connection owned by the caller.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/postgres/pg_connection.h"
#include "store/run_store.h"

namespace sluice::store::postgres {

#define SLUICE_PG_RUN_COLUMNS                                                             \
  "seq, id, state, workflow_type, workflow_type_version, workflow_url, workflow_params, " \
  "workflow_engine, workflow_engine_version, engine_params, tags, attachments, "          \
  "submitted_at, updated_at, start_time, end_time, outputs, system_logs, "                \
  "idempotency_key, owner, lease_until, user_name, name"
#define SLUICE_PG_TASK_COLUMNS                                                    \
  "seq, id, name, cmd, state, executor, executor_job_id, exit_code, start_time, " \
  "end_time, system_logs, created_at, updated_at, launch_spec"
#define SLUICE_PG_TERMINAL "(5, 6, 7, 8, 10)"
inline constexpr int kRunColumnCount = 23;

// Row `row` of `r`, selected with SLUICE_PG_RUN_COLUMNS starting at column `col`.
Result<RunRecord> ReadRunRow(const PgResult& r, int row, int col = 0);
// Row `row` of `r`, selected with SLUICE_PG_TASK_COLUMNS starting at column 0.
Result<TaskRecord> ReadTaskRow(const PgResult& r, int row, std::string_view run_id);

State StateOf(int64_t value);

// Adds a run that just entered terminal state `to` to the stats roll-ups (in the caller's
// transaction).
Status AddRunToStats(PgConn& db, int64_t run_seq, State to, std::optional<Micros> start,
                     Micros end, const std::optional<RunUsage>& usage);

}  // namespace sluice::store::postgres
