#include "store/sqlite/stats_ops.h"

#include <map>
#include <string>
#include <utility>

#include "store/stats_rollup.h"
#include "store/sqlite/row_codec.h"

namespace sluice::store::sqlite {
namespace {

enum Dim : int64_t { kDimAll = 0, kDimUser = 1, kDimWorkflowType = 2, kDimTag = 3 };

constexpr char kRunForStats[] = "SELECT user, workflow_type, tags FROM runs WHERE seq = ?1";
#define SLUICE_ROLLUP_COLUMNS                                                           \
  "runs, n_complete, n_executor_error, n_system_error, n_canceled, n_preempted, tasks, " \
  "tasks_failed, cpu_seconds, memory_gb_seconds, run_hist, task_hist"
constexpr char kGetRollup[] =
    "SELECT " SLUICE_ROLLUP_COLUMNS " FROM stats_rollup WHERE dim = ?1 AND key = ?2 AND day = ?3";
constexpr char kPutRollup[] =
    "INSERT OR REPLACE INTO stats_rollup (dim, key, day, " SLUICE_ROLLUP_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
constexpr char kQueryRollupDays[] =
    "SELECT key, day, " SLUICE_ROLLUP_COLUMNS
    " FROM stats_rollup WHERE dim = ?1 AND day >= ?2 AND day < ?3";
constexpr char kQueryRollupKeys[] =
    "SELECT key, day, " SLUICE_ROLLUP_COLUMNS
    " FROM stats_rollup WHERE dim = ?1 AND key >= ?4 AND key < ?5 AND day >= ?2 AND day < ?3";
#undef SLUICE_ROLLUP_COLUMNS

// Reads the roll-up columns starting at `col` (SLUICE_ROLLUP_COLUMNS order).
Result<StatsRollup> ReadRollup(const Stmt& stmt, int col) {
  StatsRollup r;
  r.runs = stmt.ColumnInt(col);
  for (size_t i = 0; i < r.by_state.size(); ++i) {
    r.by_state[i] = stmt.ColumnInt(col + 1 + static_cast<int>(i));
  }
  r.tasks = stmt.ColumnInt(col + 6);
  r.tasks_failed = stmt.ColumnInt(col + 7);
  r.cpu_seconds = stmt.ColumnDouble(col + 8);
  r.memory_gb_seconds = stmt.ColumnDouble(col + 9);
  ASSIGN_OR_RETURN(r.run_durations, DurationHistogram::Decode(stmt.ColumnBlob(col + 10)));
  ASSIGN_OR_RETURN(r.task_durations, DurationHistogram::Decode(stmt.ColumnBlob(col + 11)));
  return r;
}

Status AddToRow(Connection& db, Dim dim, std::string_view key, int64_t day,
                const StatsRollup& add) {
  StatsRollup row;
  {
    ASSIGN_OR_RETURN(Stmt get, db.Prepare(kGetRollup));
    RETURN_IF_ERROR(get.BindInt(1, dim));
    RETURN_IF_ERROR(get.BindText(2, key));
    RETURN_IF_ERROR(get.BindInt(3, day));
    ASSIGN_OR_RETURN(bool found, get.Step());
    if (found) {
      ASSIGN_OR_RETURN(row, ReadRollup(get, 0));
    }
  }
  row.Merge(add);
  ASSIGN_OR_RETURN(Stmt put, db.Prepare(kPutRollup));
  RETURN_IF_ERROR(put.BindInt(1, dim));
  RETURN_IF_ERROR(put.BindText(2, key));
  RETURN_IF_ERROR(put.BindInt(3, day));
  RETURN_IF_ERROR(put.BindInt(4, row.runs));
  for (size_t i = 0; i < row.by_state.size(); ++i) {
    RETURN_IF_ERROR(put.BindInt(5 + static_cast<int>(i), row.by_state[i]));
  }
  RETURN_IF_ERROR(put.BindInt(10, row.tasks));
  RETURN_IF_ERROR(put.BindInt(11, row.tasks_failed));
  RETURN_IF_ERROR(put.BindDouble(12, row.cpu_seconds));
  RETURN_IF_ERROR(put.BindDouble(13, row.memory_gb_seconds));
  RETURN_IF_ERROR(put.BindBlobOrNull(14, row.run_durations.Encode()));
  RETURN_IF_ERROR(put.BindBlobOrNull(15, row.task_durations.Encode()));
  return put.Run();
}

}  // namespace

Status AddRunToStatsOp(Connection& db, int64_t run_seq, State to, std::optional<Micros> start,
                       Micros end, const std::optional<RunUsage>& usage) {
  std::string user;
  std::string workflow_type;
  StringMap tags;
  {
    ASSIGN_OR_RETURN(Stmt run, db.Prepare(kRunForStats));
    RETURN_IF_ERROR(run.BindInt(1, run_seq));
    ASSIGN_OR_RETURN(bool found, run.Step());
    if (!found) return Internal("run seq " + std::to_string(run_seq) + " vanished");
    user = run.ColumnText(0);
    workflow_type = run.ColumnText(1);
    ASSIGN_OR_RETURN(tags, ReadTags(run, 2));
  }
  StatsRollup add;
  add.AddRun(to, RunSeconds(start, end), usage.has_value() ? &*usage : nullptr);
  int64_t day = UtcDay(end);
  RETURN_IF_ERROR(AddToRow(db, kDimAll, "", day, add));
  RETURN_IF_ERROR(AddToRow(db, kDimUser, user.empty() ? "anonymous" : user, day, add));
  RETURN_IF_ERROR(AddToRow(db, kDimWorkflowType, workflow_type, day, add));
  for (const auto& [key, value] : tags) {
    if (!IsRolledUpTag(key)) continue;
    RETURN_IF_ERROR(AddToRow(db, kDimTag, TagRollupKey(key, value), day, add));
  }
  return Status::Ok();
}

Result<std::vector<StatsGroup>> QueryStatsRows(Connection& db, const StatsQuery& query) {
  auto [first_day, end_day] = UtcDayRange(query.from, query.to);
  std::vector<StatsGroup> groups;
  if (first_day >= end_day) return groups;
  if (query.group_by == StatsGroupBy::kTag && query.tag_key.empty()) {
    return InvalidArgument("group by tag needs a tag key");
  }
  Dim dim = kDimAll;
  switch (query.group_by) {
    case StatsGroupBy::kDay:
      dim = kDimAll;
      break;
    case StatsGroupBy::kUser:
      dim = kDimUser;
      break;
    case StatsGroupBy::kWorkflowType:
      dim = kDimWorkflowType;
      break;
    case StatsGroupBy::kTag:
      dim = kDimTag;
      break;
  }
  std::string prefix;
  ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(dim == kDimTag ? kQueryRollupKeys : kQueryRollupDays));
  RETURN_IF_ERROR(stmt.BindInt(1, dim));
  RETURN_IF_ERROR(stmt.BindInt(2, first_day));
  RETURN_IF_ERROR(stmt.BindInt(3, end_day));
  if (dim == kDimTag) {
    prefix = TagRollupPrefix(query.tag_key);
    RETURN_IF_ERROR(stmt.BindText(4, prefix));
    RETURN_IF_ERROR(stmt.BindText(5, TagRollupPrefixEnd(query.tag_key)));
  }
  std::map<std::string, StatsRollup> merged;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    std::string key;
    if (dim == kDimAll) {
      key = FormatUtcDay(stmt.ColumnInt(1));
    } else {
      key = stmt.ColumnText(0);
      if (dim == kDimTag) key.erase(0, prefix.size());
    }
    ASSIGN_OR_RETURN(StatsRollup r, ReadRollup(stmt, 2));
    merged[key].Merge(r);
  }
  groups.reserve(merged.size());
  for (auto& [key, r] : merged) groups.push_back(r.ToGroup(key));
  return groups;
}

}  // namespace sluice::store::sqlite
