// The SQL text of every statement the SQLite run store runs, in one place so the schema and
// its queries can be read together (and their query plans checked by tests).
//
// Thread-safety: constants.
#pragma once

namespace sluice::store::sqlite::sql {

// Must match ReadRun / ReadTask (row_codec.cc) column for column.
#define SLUICE_RUN_COLUMNS                                                                \
  "seq, id, state, workflow_type, workflow_type_version, workflow_url, workflow_params, " \
  "workflow_engine, workflow_engine_version, engine_params, tags, attachments, "          \
  "submitted_at, updated_at, start_time, end_time, outputs, system_logs, "                \
  "idempotency_key, owner, lease_until, user, name"
// What a listing shows (RunListQuery::summary), read by ReadRunSummary.
#define SLUICE_RUN_SUMMARY_COLUMNS \
  "seq, id, state, workflow_type, tags, submitted_at, updated_at, start_time, end_time, user, name"
// What never changes about a task; its state is in task_states (task_state_ops.h).
#define SLUICE_TASK_COLUMNS "seq, id, name, cmd, executor, created_at, launch_spec"
// Repeats the WHERE clause of the runs_active partial index exactly, so SQLite uses it
// (migrations/0007: comparisons, not an IN list, which costs an ephemeral table each time it
// is evaluated). The terminal runs' indexes (runs_ended, runs_to_archive) have
// `state >= 5 AND state <> 9`, repeated by their queries (maintenance_ops.cc, archive_ops.h).
#define SLUICE_RUN_ACTIVE "(state < 5 OR state = 9)"

// The run columns, for queries built at run time (run_query.cc).
inline constexpr char kRunColumns[] = SLUICE_RUN_COLUMNS;
inline constexpr char kRunSummaryColumns[] = SLUICE_RUN_SUMMARY_COLUMNS;

// --- reads (read pool) ---
inline constexpr char kGetRunStatus[] = "SELECT state FROM runs WHERE id = ?1";
inline constexpr char kGetRun[] = "SELECT " SLUICE_RUN_COLUMNS " FROM runs WHERE id = ?1";
inline constexpr char kListRuns[] =
    "SELECT " SLUICE_RUN_COLUMNS " FROM runs WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2";
inline constexpr char kCountRunsByState[] =
    "SELECT state, count FROM run_state_counts WHERE count > 0";
inline constexpr char kRunSeqById[] = "SELECT seq, state FROM runs WHERE id = ?1";
inline constexpr char kGetTask[] =
    "SELECT " SLUICE_TASK_COLUMNS " FROM tasks WHERE run_seq = ?1 AND id = ?2";
inline constexpr char kListTasks[] = "SELECT " SLUICE_TASK_COLUMNS
                                     " FROM tasks WHERE run_seq = ?1 AND seq > ?2 "
                                     "ORDER BY seq LIMIT ?3";
inline constexpr char kGetTaskBySeq[] =
    "SELECT " SLUICE_TASK_COLUMNS " FROM tasks WHERE run_seq = ?1 AND seq = ?2";
// Packed task state (task_state_ops.h).
inline constexpr char kReadTaskChunk[] =
    "SELECT states FROM task_states WHERE run_seq = ?1 AND chunk = ?2";
// The task state chunks of non-terminal runs (runs_active: its WHERE clause is repeated
// exactly), i.e. what is in flight: the reconciler's walk for stale tasks, so no index is kept
// up to date on every task change for it. CROSS JOIN keeps runs the outer loop.
inline constexpr char kActiveTaskChunks[] =
    "SELECT r.seq, r.id, s.chunk, s.states FROM runs AS r INDEXED BY runs_active "
    "CROSS JOIN task_states AS s ON s.run_seq = r.seq WHERE " SLUICE_RUN_ACTIVE;
// Packed history rows (history_ops.h): from the row holding seq ?2 + 1 on.
inline constexpr char kReadHistoryRows[] =
    "SELECT first_seq, n, events FROM history WHERE run_seq = ?1 AND first_seq >= "
    "coalesce((SELECT max(first_seq) FROM history WHERE run_seq = ?1 AND first_seq <= ?2 + 1), "
    "0) ORDER BY first_seq";
inline constexpr char kTaskIdsOfRun[] = "SELECT seq, id FROM tasks WHERE run_seq = ?1";

inline constexpr char kListRunEvents[] =
    "SELECT seq, type, at, state_name, scope, details, replay FROM run_events "
    "WHERE run_seq = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";
inline constexpr char kListReplayRunEvents[] =
    "SELECT seq, type, at, state_name, scope, details, replay FROM run_events "
    "WHERE run_seq = ?1 AND seq > ?2 AND replay = 1 ORDER BY seq LIMIT ?3";
inline constexpr char kListHistoryRunEvents[] =
    "SELECT seq, type, at, state_name, scope, details, replay FROM run_events "
    "WHERE run_seq = ?1 AND seq > ?2 AND replay = 0 ORDER BY seq LIMIT ?3";

// --- writes (writer thread) ---
inline constexpr char kLastRunEventSeq[] =
    "SELECT coalesce(max(seq), 0) FROM run_events WHERE run_seq = ?1";
inline constexpr char kInsertRunEvent[] =
    "INSERT INTO run_events (run_seq, seq, type, at, state_name, scope, details, replay) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
inline constexpr char kRunByIdempotencyKey[] =
    "SELECT " SLUICE_RUN_COLUMNS " FROM runs WHERE idempotency_key = ?1";
inline constexpr char kInsertRun[] =
    "INSERT INTO runs (id, state, workflow_type, workflow_type_version, workflow_url, "
    "workflow_params, workflow_engine, workflow_engine_version, engine_params, tags, "
    "attachments, submitted_at, updated_at, idempotency_key, user, name) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14, ?15)";
inline constexpr char kInsertRunTag[] =
    "INSERT INTO run_tags (key, value, run_seq) VALUES (?1, ?2, ?3)";
inline constexpr char kDeleteRunTag[] =
    "DELETE FROM run_tags WHERE key = ?1 AND value = ?2 AND run_seq = ?3";
inline constexpr char kRunForTagUpdate[] = "SELECT seq, state, tags, updated_at FROM runs WHERE id = ?1";
inline constexpr char kUpdateRunTags[] =
    "UPDATE runs SET tags = ?2, name = ?3, updated_at = ?4 WHERE seq = ?1";
// A run's history seqs are 1, 2, 3, ...: the next is the last plus one.
inline constexpr char kLastHistorySeq[] =
    "SELECT first_seq + n - 1 FROM history WHERE run_seq = ?1 ORDER BY first_seq DESC LIMIT 1";
inline constexpr char kInsertHistoryRow[] =
    "INSERT INTO history (run_seq, first_seq, n, events) VALUES (?1, ?2, ?3, ?4)";
inline constexpr char kRunForTransition[] =
    "SELECT seq, state, start_time, end_time, outputs, system_logs, updated_at "
    "FROM runs WHERE id = ?1";
inline constexpr char kUpdateRun[] =
    "UPDATE runs SET state = ?2, updated_at = ?3, start_time = ?4, end_time = ?5, "
    "outputs = ?6, system_logs = ?7 WHERE seq = ?1";
inline constexpr char kTaskSeqById[] = "SELECT seq FROM tasks WHERE run_seq = ?1 AND id = ?2";
// A state sync batch reads the ids of a run with few tasks at once (write_ops.cc, BatchRuns):
// one range of the covering tasks_by_id index instead of one lookup per event.
inline constexpr int kTaskSeqsOfRunLimit = 65;
inline constexpr char kTaskSeqsOfRun[] =
    "SELECT id, seq FROM tasks INDEXED BY tasks_by_id WHERE run_seq = ?1 LIMIT 65";
inline constexpr char kPutTaskChunk[] =
    "INSERT INTO task_states (run_seq, chunk, states) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (run_seq, chunk) DO UPDATE SET states = excluded.states";
inline constexpr char kTaskExists[] = "SELECT 1 FROM tasks WHERE run_seq = ?1 AND id = ?2";
// tasks.seq is numbered per run: the next is the run's last plus one.
inline constexpr char kInsertTask[] =
    "INSERT INTO tasks (run_seq, seq, id, name, cmd, executor, created_at, launch_spec) "
    "VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM tasks WHERE run_seq = ?1), ?2, ?3, "
    "?4, ?5, ?6, ?7) RETURNING seq";
// RETURNING gives no order guarantee; the caller sorts by seq.
inline constexpr char kClaimRuns[] =
    "UPDATE runs SET owner = ?1, lease_until = ?3 WHERE seq IN ("
    " SELECT seq FROM runs WHERE " SLUICE_RUN_ACTIVE
    " AND (owner IS NULL OR owner = ?1 OR lease_until < ?2) ORDER BY seq LIMIT ?4) "
    "RETURNING " SLUICE_RUN_COLUMNS;
inline constexpr char kClaimFreeRuns[] =
    "UPDATE runs SET owner = ?1, lease_until = ?3 WHERE seq IN ("
    " SELECT seq FROM runs WHERE " SLUICE_RUN_ACTIVE
    " AND (owner IS NULL OR (owner <> ?1 AND lease_until < ?2)) ORDER BY seq LIMIT ?4) "
    "RETURNING " SLUICE_RUN_COLUMNS;
inline constexpr char kRenewLeases[] =
    "UPDATE runs SET lease_until = ?2 WHERE " SLUICE_RUN_ACTIVE " AND owner = ?1";

#undef SLUICE_RUN_COLUMNS
#undef SLUICE_TASK_COLUMNS
#undef SLUICE_RUN_SUMMARY_COLUMNS
#undef SLUICE_RUN_ACTIVE

}  // namespace sluice::store::sqlite::sql
