// Conversions between the store's domain types and SQLite rows: the JSON text columns
// (string maps and lists, NULL when empty) and whole RunRecord/TaskRecord rows read from a
// statement whose columns are kRunColumns / kTaskColumns (statements.h).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/run_store.h"
#include "store/sqlite/connection.h"

namespace sluice::store::sqlite {

// Compact JSON text, or "" (stored as NULL) when empty. kInvalidArgument if a string is not
// valid UTF-8 (JSON cannot hold it).
Result<std::string> EncodeStringMap(const StringMap& map, std::string_view what);
Result<std::string> EncodeStringList(const std::vector<std::string>& list, std::string_view what);
// Inverse of the above; "" decodes to empty. kInternal if the stored text is malformed.
Result<StringMap> DecodeStringMap(std::string_view text, std::string_view what);
Result<std::vector<std::string>> DecodeStringList(std::string_view text, std::string_view what);

// runs.tags: the pairs in key order, each key and value a varint length and its bytes, as a
// blob; "" (stored as NULL) when empty. Listings read the tags of every row they return, and
// decoding JSON text there was a fifth of a page's cost (0008_covering_index_tag_blobs.sql).
std::string EncodeTags(const StringMap& tags);
// The tags in column `col` of the current row: NULL, the blob above, or JSON text (how rows
// written before 0008 hold them, until a tag update rewrites them). kInternal if malformed.
Result<StringMap> ReadTags(const Stmt& stmt, int col);

// The run's JSON columns, encoded once outside the writer thread.
struct EncodedRequest {
  std::string engine_params;
  std::string tags;       // JSON (PostgreSQL)
  std::string tags_blob;  // EncodeTags (SQLite)
  std::string attachments;
};
Result<EncodedRequest> EncodeRequest(const RunRequest& request);

// A new task's JSON columns (cmd, system_logs), encoded once outside the writer thread.
struct EncodedTask {
  std::string cmd;
  std::string logs;
};
// One per task, in order. kInvalidArgument for an empty task id or a string that is not UTF-8.
Result<std::vector<EncodedTask>> EncodeNewTasks(const std::vector<TaskRecord>& tasks);

// The current row of `stmt`, selected with kRunColumns.
Result<RunRecord> ReadRun(const Stmt& stmt);
// A row of SLUICE_RUN_SUMMARY_COLUMNS: the fields RunListQuery::summary names, others default.
Result<RunRecord> ReadRunSummary(const Stmt& stmt);
// The current row of `stmt`, selected with SLUICE_TASK_COLUMNS: what never changes about the
// task (its state is in task_states: task_state_ops.h fills it in); the run id is not stored
// in tasks.
Result<TaskRecord> ReadTask(const Stmt& stmt, std::string_view run_id);

// History event types as stored (see migrations/0001_init.sql).
int HistoryTypeCode(std::string_view type);
std::string_view HistoryTypeName(int64_t code);

State StateFromColumn(int64_t value);

}  // namespace sluice::store::sqlite
