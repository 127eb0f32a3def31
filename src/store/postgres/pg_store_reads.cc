// PgRunStore's queries over many rows: run lists and counts (the run index), the outbox,
// stats roll-ups and ended runs; and the row readers shared with pg_run_store.cc.
#include <algorithm>
#include <string>

#include "store/postgres/pg_rows.h"
#include "store/postgres/pg_run_store.h"
#include "store/sqlite/row_codec.h"  // the JSON encodings of string maps and lists
#include "store/stats_rollup.h"

namespace sluice::store::postgres {

using sqlite::DecodeStringList;
using sqlite::DecodeStringMap;

namespace {

enum Dim : int64_t { kDimAll = 0, kDimUser = 1, kDimWorkflowType = 2, kDimTag = 3 };

constexpr char kCountsByState[] =
    "SELECT state, sum(count) FROM run_counts WHERE dim = 0 GROUP BY state "
    "HAVING sum(count) > 0";
constexpr char kCountDim[] =
    "SELECT coalesce(sum(count), 0) FROM run_counts WHERE dim = $1 AND key = $2 "
    "AND ($3::smallint[] IS NULL OR state = ANY($3::smallint[]))";
constexpr char kRunForStats[] = "SELECT user_name, workflow_type, tags FROM runs WHERE seq = $1";
#define SLUICE_PG_ROLLUP_COLUMNS                                                        \
  "runs, n_complete, n_executor_error, n_system_error, n_canceled, n_preempted, tasks, " \
  "tasks_failed, cpu_seconds, memory_gb_seconds, run_hist, task_hist"
constexpr char kEnsureRollup[] =
    "INSERT INTO stats_rollup (dim, key, day, " SLUICE_PG_ROLLUP_COLUMNS
    ") VALUES ($1, $2, $3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL) ON CONFLICT DO NOTHING";
constexpr char kLockRollup[] = "SELECT " SLUICE_PG_ROLLUP_COLUMNS
                               " FROM stats_rollup WHERE dim = $1 AND day = $3 AND key = $2 "
                               "FOR UPDATE";
constexpr char kPutRollup[] =
    "UPDATE stats_rollup SET runs = $4, n_complete = $5, n_executor_error = $6, "
    "n_system_error = $7, n_canceled = $8, n_preempted = $9, tasks = $10, tasks_failed = $11, "
    "cpu_seconds = $12, memory_gb_seconds = $13, run_hist = $14, task_hist = $15 "
    "WHERE dim = $1 AND day = $3 AND key = $2";
constexpr char kQueryRollups[] =
    "SELECT key, day, " SLUICE_PG_ROLLUP_COLUMNS
    " FROM stats_rollup WHERE dim = $1 AND day >= $2 AND day < $3 "
    "AND ($4::text IS NULL OR starts_with(key, $4::text))";
#undef SLUICE_PG_ROLLUP_COLUMNS
constexpr char kListEnded[] =
    "SELECT id, seq, coalesce(end_time, updated_at), workflow_type, tags FROM runs "
    "WHERE state IN " SLUICE_PG_TERMINAL " AND coalesce(end_time, updated_at) < $1 "
    "AND ($2::bigint IS NULL OR (coalesce(end_time, updated_at), seq) > ($2::bigint, $3::bigint)) "
    "ORDER BY coalesce(end_time, updated_at), seq LIMIT $4";
constexpr char kReadOutbox[] =
    "SELECT o.seq, o.run_id, o.task_id, o.type, o.from_state, o.to_state, o.at, o.reason, "
    "r.state, r.user_name, r.workflow_type, r.tags "
    "FROM outbox o LEFT JOIN runs r ON r.id = o.run_id "
    "WHERE o.seq > $1 ORDER BY o.seq LIMIT $2";
constexpr char kOutboxBounds[] =
    "SELECT (SELECT min(seq) FROM outbox WHERE seq IS NOT NULL), "
    "(SELECT last_seq FROM outbox_last WHERE one = 1)";
constexpr char kOutboxHead[] =
    "SELECT seq, at FROM outbox WHERE seq IS NOT NULL ORDER BY seq LIMIT $1";
constexpr char kPruneOutbox[] = "DELETE FROM outbox WHERE seq IS NOT NULL AND seq <= $1";

Result<StatsRollup> ReadRollup(const PgResult& r, int row, int col) {
  StatsRollup out;
  out.runs = r.Int(row, col);
  for (size_t i = 0; i < out.by_state.size(); ++i) {
    out.by_state[i] = r.Int(row, col + 1 + static_cast<int>(i));
  }
  out.tasks = r.Int(row, col + 6);
  out.tasks_failed = r.Int(row, col + 7);
  out.cpu_seconds = r.Double(row, col + 8);
  out.memory_gb_seconds = r.Double(row, col + 9);
  ASSIGN_OR_RETURN(out.run_durations, DurationHistogram::Decode(r.Bytes(row, col + 10)));
  ASSIGN_OR_RETURN(out.task_durations, DurationHistogram::Decode(r.Bytes(row, col + 11)));
  return out;
}

Status AddToRow(PgConn& db, Dim dim, std::string_view key, int64_t day, const StatsRollup& add) {
  std::vector<PgParam> id = {PgParam::Int(dim), PgParam::Text(key), PgParam::Int(day)};
  RETURN_IF_ERROR(db.Exec(kEnsureRollup, id).status());
  ASSIGN_OR_RETURN(PgResult cur, db.Exec(kLockRollup, id));
  if (cur.rows() == 0) return Internal("stats roll-up row vanished");
  ASSIGN_OR_RETURN(StatsRollup row, ReadRollup(cur, 0, 0));
  row.Merge(add);
  std::vector<PgParam> p = id;
  p.push_back(PgParam::Int(row.runs));
  for (int64_t n : row.by_state) p.push_back(PgParam::Int(n));
  p.push_back(PgParam::Int(row.tasks));
  p.push_back(PgParam::Int(row.tasks_failed));
  p.push_back(PgParam::Double(row.cpu_seconds));
  p.push_back(PgParam::Double(row.memory_gb_seconds));
  p.push_back(PgParam::BytesOrNull(row.run_durations.Encode()));
  p.push_back(PgParam::BytesOrNull(row.task_durations.Encode()));
  return db.Exec(kPutRollup, p).status();
}

// "{1,3}": a smallint[] parameter; NULL when `states` is empty (any state).
PgParam StatesParam(const std::vector<State>& states) {
  if (states.empty()) return PgParam::Null();
  std::string out = "{";
  for (State s : states) {
    if (out.size() > 1) out += ",";
    out += std::to_string(static_cast<int>(s));
  }
  return PgParam::Text(out + "}");
}

std::string TagCountKey(const std::pair<std::string, std::string>& tag) {
  return tag.first + '\x1f' + tag.second;
}

bool IsUpdatedSort(RunSort s) { return s == RunSort::kUpdatedDesc || s == RunSort::kUpdatedAsc; }
bool IsDescSort(RunSort s) { return s == RunSort::kSubmittedDesc || s == RunSort::kUpdatedDesc; }

}  // namespace

State StateOf(int64_t value) { return sqlite::StateFromColumn(value); }

Result<RunRecord> ReadRunRow(const PgResult& r, int row, int c) {
  RunRecord run;
  run.seq = r.Int(row, c + 0);
  run.id = r.Text(row, c + 1);
  run.state = StateOf(r.Int(row, c + 2));
  RunRequest& q = run.request;
  q.workflow_type = r.Text(row, c + 3);
  q.workflow_type_version = r.Text(row, c + 4);
  q.workflow_url = r.Text(row, c + 5);
  q.workflow_params = r.Text(row, c + 6);
  q.workflow_engine = r.Text(row, c + 7);
  q.workflow_engine_version = r.Text(row, c + 8);
  ASSIGN_OR_RETURN(q.workflow_engine_parameters,
                   DecodeStringMap(r.Text(row, c + 9), "runs.engine_params"));
  ASSIGN_OR_RETURN(q.tags, DecodeStringMap(r.Text(row, c + 10), "runs.tags"));
  ASSIGN_OR_RETURN(q.attachments, DecodeStringList(r.Text(row, c + 11), "runs.attachments"));
  run.submitted_at = r.Int(row, c + 12);
  run.updated_at = r.Int(row, c + 13);
  run.start_time = r.OptInt(row, c + 14);
  run.end_time = r.OptInt(row, c + 15);
  run.outputs = r.IsNull(row, c + 16) ? "{}" : r.Text(row, c + 16);
  ASSIGN_OR_RETURN(run.system_logs, DecodeStringList(r.Text(row, c + 17), "runs.system_logs"));
  run.idempotency_key = r.Text(row, c + 18);
  run.owner = r.Text(row, c + 19);
  run.lease_until = r.Int(row, c + 20);
  run.user = r.Text(row, c + 21);
  run.name = r.Text(row, c + 22);
  return run;
}

Result<TaskRecord> ReadTaskRow(const PgResult& r, int row, std::string_view run_id) {
  TaskRecord t;
  t.run_id = std::string(run_id);
  t.seq = r.Int(row, 0);
  t.id = r.Text(row, 1);
  t.name = r.Text(row, 2);
  ASSIGN_OR_RETURN(t.cmd, DecodeStringList(r.Text(row, 3), "tasks.cmd"));
  t.state = StateOf(r.Int(row, 4));
  t.executor = r.Text(row, 5);
  t.executor_job_id = r.Text(row, 6);
  if (!r.IsNull(row, 7)) t.exit_code = static_cast<int>(r.Int(row, 7));
  t.start_time = r.OptInt(row, 8);
  t.end_time = r.OptInt(row, 9);
  ASSIGN_OR_RETURN(t.system_logs, DecodeStringList(r.Text(row, 10), "tasks.system_logs"));
  t.created_at = r.Int(row, 11);
  t.updated_at = r.Int(row, 12);
  t.launch_spec = r.Text(row, 13);
  return t;
}

Status AddRunToStats(PgConn& db, int64_t run_seq, State to, std::optional<Micros> start,
                     Micros end, const std::optional<RunUsage>& usage) {
  ASSIGN_OR_RETURN(PgResult run, db.Exec(kRunForStats, {PgParam::Int(run_seq)}));
  if (run.rows() == 0) return Internal("run seq " + std::to_string(run_seq) + " vanished");
  std::string user = run.Text(0, 0);
  std::string workflow_type = run.Text(0, 1);
  ASSIGN_OR_RETURN(StringMap tags, DecodeStringMap(run.Text(0, 2), "runs.tags"));
  StatsRollup add;
  add.AddRun(to, RunSeconds(start, end), usage.has_value() ? &*usage : nullptr);
  int64_t day = UtcDay(end);
  // Always the all-runs row first: concurrent roll-ups of one day queue there instead of
  // locking rows in different orders.
  RETURN_IF_ERROR(AddToRow(db, kDimAll, "", day, add));
  RETURN_IF_ERROR(AddToRow(db, kDimUser, user.empty() ? "anonymous" : user, day, add));
  RETURN_IF_ERROR(AddToRow(db, kDimWorkflowType, workflow_type, day, add));
  for (const auto& [key, value] : tags) {
    if (!IsRolledUpTag(key)) continue;
    RETURN_IF_ERROR(AddToRow(db, kDimTag, TagRollupKey(key, value), day, add));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------
// The run index

// One statement per query: every filter is a predicate (tags as EXISTS on run_tags), the
// sort an ORDER BY on an indexed key ending with seq, the cursor a row comparison on it.
// PostgreSQL's planner picks the index (see the indexes in migrations/0001_init.sql).
Result<RunPage> PgRunStore::ListRuns(const RunListQuery& query) {
  if (query.page_size < 1) return InvalidArgument("page_size must be positive");
  const RunFilter& f = query.filter;
  const bool updated = IsUpdatedSort(query.sort);
  const bool desc = IsDescSort(query.sort);
  std::vector<PgParam> params;
  auto param = [&params](PgParam p) {
    params.push_back(std::move(p));
    return "$" + std::to_string(params.size());
  };
  std::string where = "TRUE";
  if (!f.states.empty()) where += " AND state = ANY(" + param(StatesParam(f.states)) + "::smallint[])";
  if (!f.user.empty()) where += " AND user_name = " + param(PgParam::Text(f.user));
  if (!f.workflow_type.empty()) {
    where += " AND workflow_type = " + param(PgParam::Text(f.workflow_type));
  }
  for (const auto& [key, value] : f.tags) {
    std::string k = param(PgParam::Text(key));
    std::string v = param(PgParam::Text(value));
    where += " AND EXISTS (SELECT 1 FROM run_tags t WHERE t.key = " + k + " AND t.value = " + v +
             " AND t.run_seq = runs.seq)";
  }
  if (f.submitted_after) where += " AND submitted_at >= " + param(PgParam::Int(*f.submitted_after));
  if (f.submitted_before) where += " AND submitted_at < " + param(PgParam::Int(*f.submitted_before));
  if (!f.name_prefix.empty()) {
    where += " AND name IS NOT NULL AND starts_with(name, " + param(PgParam::Text(f.name_prefix)) +
             "::text)";
  }
  const char* cmp = desc ? " < " : " > ";
  if (query.after) {
    if (updated) {
      where += " AND (updated_at, seq)" + std::string(cmp) + "(" +
               param(PgParam::Int(query.after->key)) + "::bigint, " +
               param(PgParam::Int(query.after->seq)) + "::bigint)";
    } else {
      where += " AND seq" + std::string(cmp) + param(PgParam::Int(query.after->seq));
    }
  }
  const char* dir = desc ? " DESC" : " ASC";
  std::string order = updated ? std::string("updated_at") + dir + ", seq" + dir
                              : std::string("seq") + dir;
  std::string sql = "SELECT " SLUICE_PG_RUN_COLUMNS " FROM runs WHERE " + where + " ORDER BY " +
                    order + " LIMIT " + param(PgParam::Int(query.page_size + 1));
  PgPool::Lease db = pool_->Acquire();
  ASSIGN_OR_RETURN(PgResult r, db->ExecDynamic(sql, params));
  RunPage page;
  for (int i = 0; i < r.rows(); ++i) {
    if (i == query.page_size) {
      const RunRecord& last = page.runs.back();
      page.next = RunCursor{updated ? last.updated_at : 0, last.seq};
      break;
    }
    ASSIGN_OR_RETURN(RunRecord run, ReadRunRow(r, i));
    page.runs.push_back(std::move(run));
  }
  return page;
}

// As the SQLite store: exact from the maintained counts for states plus at most one of
// {user, workflow type, one tag}; otherwise an estimate assuming independent dimensions.
Result<RunCount> PgRunStore::CountRuns(const RunFilter& f) {
  PgPool::Lease db = pool_->Acquire();
  auto count = [&](Dim dim, const std::string& key) -> Result<int64_t> {
    ASSIGN_OR_RETURN(PgResult r, db->Exec(kCountDim, {PgParam::Int(dim), PgParam::Text(key),
                                                      StatesParam(f.states)}));
    return r.Int(0, 0);
  };
  ASSIGN_OR_RETURN(int64_t base, count(kDimAll, ""));
  std::vector<std::pair<Dim, std::string>> dims;
  if (!f.user.empty()) dims.emplace_back(kDimUser, f.user);
  if (!f.workflow_type.empty()) dims.emplace_back(kDimWorkflowType, f.workflow_type);
  for (const auto& tag : f.tags) dims.emplace_back(kDimTag, TagCountKey(tag));
  RunCount out;
  const bool ranged = f.submitted_after || f.submitted_before || !f.name_prefix.empty();
  if (dims.size() <= 1 && !ranged) {
    if (dims.empty()) {
      out.count = base;
    } else {
      ASSIGN_OR_RETURN(out.count, count(dims[0].first, dims[0].second));
    }
    return out;
  }
  out.exact = false;
  std::vector<int64_t> dim_counts;
  for (const auto& [dim, key] : dims) {
    ASSIGN_OR_RETURN(int64_t n, count(dim, key));
    dim_counts.push_back(n);
  }
  out.count = EstimateMatchingRuns(base, dim_counts);
  return out;
}

Result<std::map<State, int64_t>> PgRunStore::CountRunsByState() {
  PgPool::Lease db = pool_->Acquire();
  ASSIGN_OR_RETURN(PgResult r, db->Exec(kCountsByState));
  std::map<State, int64_t> counts;
  for (int i = 0; i < r.rows(); ++i) counts[StateOf(r.Int(i, 0))] = r.Int(i, 1);
  return counts;
}

Result<std::vector<EndedRun>> PgRunStore::ListEndedRuns(const EndedRunQuery& query) {
  std::vector<EndedRun> out;
  if (query.limit < 1) return out;
  PgPool::Lease db = pool_->Acquire();
  ASSIGN_OR_RETURN(
      PgResult r,
      db->Exec(kListEnded,
               {PgParam::Int(query.ended_before),
                query.after ? PgParam::Int(query.after->key) : PgParam::Null(),
                query.after ? PgParam::Int(query.after->seq) : PgParam::Null(),
                PgParam::Int(query.limit)}));
  for (int i = 0; i < r.rows(); ++i) {
    EndedRun e;
    e.id = r.Text(i, 0);
    e.seq = r.Int(i, 1);
    e.end_time = r.Int(i, 2);
    e.workflow_type = r.Text(i, 3);
    ASSIGN_OR_RETURN(e.tags, DecodeStringMap(r.Text(i, 4), "runs.tags"));
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<StatsGroup>> PgRunStore::QueryStats(const StatsQuery& query) {
  if (query.group_by == StatsGroupBy::kTag && query.tag_key.empty()) {
    return InvalidArgument("group by tag needs a tag key");
  }
  auto [first_day, end_day] = UtcDayRange(query.from, query.to);
  std::vector<StatsGroup> groups;
  if (first_day >= end_day) return groups;
  Dim dim = query.group_by == StatsGroupBy::kDay            ? kDimAll
            : query.group_by == StatsGroupBy::kUser         ? kDimUser
            : query.group_by == StatsGroupBy::kWorkflowType ? kDimWorkflowType
                                                            : kDimTag;
  std::string prefix = dim == kDimTag ? TagRollupPrefix(query.tag_key) : "";
  PgPool::Lease db = pool_->Acquire();
  ASSIGN_OR_RETURN(PgResult r, db->Exec(kQueryRollups,
                                        {PgParam::Int(dim), PgParam::Int(first_day),
                                         PgParam::Int(end_day),
                                         dim == kDimTag ? PgParam::Text(prefix) : PgParam::Null()}));
  std::map<std::string, StatsRollup> merged;
  for (int i = 0; i < r.rows(); ++i) {
    std::string key = dim == kDimAll ? FormatUtcDay(r.Int(i, 1)) : r.Text(i, 0);
    if (dim == kDimTag) key.erase(0, prefix.size());
    ASSIGN_OR_RETURN(StatsRollup row, ReadRollup(r, i, 2));
    merged[key].Merge(row);
  }
  groups.reserve(merged.size());
  for (auto& [key, row] : merged) groups.push_back(row.ToGroup(key));
  return groups;
}

// ---------------------------------------------------------------------------------------
// The outbox

Result<std::vector<ChangeEvent>> PgRunStore::ReadOutbox(int64_t after_seq, int limit) {
  std::vector<ChangeEvent> out;
  if (limit < 1) return out;
  PgPool::Lease db = pool_->Acquire();
  RETURN_IF_ERROR(SequenceOutbox(*db));
  ASSIGN_OR_RETURN(PgResult r,
                   db->Exec(kReadOutbox, {PgParam::Int(after_seq), PgParam::Int(limit)}));
  for (int i = 0; i < r.rows(); ++i) {
    ChangeEvent e;
    e.seq = r.Int(i, 0);
    e.run_id = r.Text(i, 1);
    e.task_id = r.Text(i, 2);
    e.type = r.Text(i, 3);
    e.from = StateOf(r.Int(i, 4));
    e.to = StateOf(r.Int(i, 5));
    e.at = r.Int(i, 6);
    e.reason = r.Text(i, 7);
    if (!r.IsNull(i, 8)) {
      e.run_state = StateOf(r.Int(i, 8));
      e.user = r.Text(i, 9);
      e.workflow_type = r.Text(i, 10);
      ASSIGN_OR_RETURN(e.tags, DecodeStringMap(r.Text(i, 11), "runs.tags"));
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<OutboxBounds> PgRunStore::GetOutboxBounds() {
  PgPool::Lease db = pool_->Acquire();
  RETURN_IF_ERROR(SequenceOutbox(*db));
  ASSIGN_OR_RETURN(PgResult r, db->Exec(kOutboxBounds));
  OutboxBounds b;
  b.oldest_seq = r.Int(0, 0);
  b.last_seq = r.Int(0, 1);
  return b;
}

Result<int64_t> PgRunStore::PruneOutbox(Micros before, int limit) {
  if (limit < 1) return int64_t{0};
  PgPool::Lease db = pool_->Acquire();
  RETURN_IF_ERROR(SequenceOutbox(*db));
  // Only a prefix goes (the oldest entries up to the first recent one), so the kept entries
  // stay contiguous.
  ASSIGN_OR_RETURN(PgResult head, db->Exec(kOutboxHead, {PgParam::Int(limit)}));
  int64_t upto = 0;
  for (int i = 0; i < head.rows() && head.Int(i, 1) < before; ++i) upto = head.Int(i, 0);
  if (upto == 0) return int64_t{0};
  ASSIGN_OR_RETURN(PgResult del, db->Exec(kPruneOutbox, {PgParam::Int(upto)}));
  return del.Affected();
}

}  // namespace sluice::store::postgres
