#include "store/sqlite/run_query.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include "store/sqlite/row_codec.h"
#include "store/sqlite/statements.h"

namespace sluice::store::sqlite {
namespace {

// run_counts.dim
constexpr int kDimUser = 1;
constexpr int kDimWorkflowType = 2;
constexpr int kDimTag = 3;

// A name prefix drives the scan only when at most this many runs carry it (they are sorted
// in memory); otherwise it is a residual predicate.
constexpr int64_t kNameDriveLimit = 2000;
// How many runs_by_name entries CountRuns looks at to estimate a name prefix's share.
constexpr int64_t kNameEstimateLimit = 10000;

enum class Driver {
  kSeq,            // runs' rowid (submitted sorts)
  kState,          // runs_by_state, one scan per state
  kUser,           // runs_by_user
  kUserState,      // runs_by_user_state, one scan per state
  kWorkflowType,   // runs_by_workflow_type
  kTag,            // run_tags primary key
  kName,           // runs_by_name, sorted in memory
  kUpdated,        // runs_by_updated (updated sorts)
  kStateUpdated,   // runs_by_state_updated, one scan per state
  kUserUpdated,    // runs_by_user_updated
};

bool IsUpdatedSort(RunSort s) { return s == RunSort::kUpdatedDesc || s == RunSort::kUpdatedAsc; }
bool IsDesc(RunSort s) { return s == RunSort::kSubmittedDesc || s == RunSort::kUpdatedDesc; }
bool PerState(Driver d) {
  return d == Driver::kState || d == Driver::kUserState || d == Driver::kStateUpdated;
}

struct Bind {
  bool text = false;
  int64_t i = 0;
  std::string s;
};
Bind Int(int64_t v) {
  Bind b;
  b.i = v;
  return b;
}
Bind Text(std::string v) {
  Bind b;
  b.text = true;
  b.s = std::move(v);
  return b;
}

// The end (exclusive) of the range of strings starting with `prefix`, or "" if unbounded.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xFF) prefix.pop_back();
  if (prefix.empty()) return prefix;
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

struct Plan {
  Driver driver = Driver::kSeq;
  int tag = -1;  // kTag: which filter.tags entry drives
  // Seq bounds from the submitted range: seq >= lo, seq < hi.
  std::optional<int64_t> seq_lo;
  std::optional<int64_t> seq_hi;
};

// One index scan: the SQL and its parameters except the per-state one, which comes first
// when `per_state` (bound by the caller for each state).
struct Scan {
  std::string sql;
  std::vector<Bind> binds;
};

// "runs.seq, runs.id, ...": the run columns of the outer query (all, or a listing's).
std::string QualifiedRunColumns(bool summary) {
  std::string cols = summary ? sql::kRunSummaryColumns : sql::kRunColumns;
  std::string out;
  size_t pos = 0;
  while (pos < cols.size()) {
    size_t comma = cols.find(',', pos);
    std::string col =
        cols.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    while (!col.empty() && col.front() == ' ') col.erase(col.begin());
    if (!out.empty()) out += ", ";
    out += "runs." + col;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// Residual predicates: every filter (but tags, checked in the index scan) that the driver does
// not apply, in `out`, and their parameters, in order, in `binds`.
void AppendResiduals(const RunFilter& f, const Plan& plan, std::vector<std::string>* out,
                     std::vector<Bind>* binds) {
  if (!f.states.empty() && !PerState(plan.driver)) {
    std::string in = "runs.state IN (";
    for (size_t i = 0; i < f.states.size(); ++i) {
      in += i == 0 ? "?" : ", ?";
      binds->push_back(Int(static_cast<int64_t>(f.states[i])));
    }
    out->push_back(in + ")");
  }
  if (!f.user.empty() && plan.driver != Driver::kUser && plan.driver != Driver::kUserState &&
      plan.driver != Driver::kUserUpdated) {
    out->push_back("runs.user = ?");
    binds->push_back(Text(f.user));
  }
  if (!f.workflow_type.empty() && plan.driver != Driver::kWorkflowType) {
    out->push_back("runs.workflow_type = ?");
    binds->push_back(Text(f.workflow_type));
  }
  if (f.submitted_after) {
    out->push_back("runs.submitted_at >= ?");
    binds->push_back(Int(*f.submitted_after));
  }
  if (f.submitted_before) {
    out->push_back("runs.submitted_at < ?");
    binds->push_back(Int(*f.submitted_before));
  }
  if (!f.name_prefix.empty() && plan.driver != Driver::kName) {
    out->push_back("substr(runs.name, 1, ?) = ?");
    binds->push_back(Int(static_cast<int64_t>(f.name_prefix.size())));
    binds->push_back(Text(f.name_prefix));
  }
}

// Builds the scan for `plan`: an inner query walks the driving index alone (covering: it
// reads only the index) in sort order, as a co-routine the outer query joins to runs by
// rowid and filters with the residual predicates. The outer query has no ORDER BY, so SQLite
// can never decide to sort (a cost-based choice it makes when it expects few rows); rows
// come out in the co-routine's order.
Scan BuildScan(const RunListQuery& q, const Plan& plan, bool with_limit) {
  const RunFilter& f = q.filter;
  const bool updated = IsUpdatedSort(q.sort);
  const bool desc = IsDesc(q.sort);
  Scan scan;
  std::vector<std::string> inner;     // driver conditions and the cursor
  std::vector<std::string> residual;  // every other filter
  std::vector<Bind>& b = scan.binds;  // in the order the parameters appear in the text
  std::string from;
  std::string seq = "seq";
  switch (plan.driver) {
    case Driver::kSeq:
      from = "runs";
      break;
    case Driver::kState:
      from = "runs INDEXED BY runs_by_state";
      inner.push_back("state = ?");
      break;
    case Driver::kUser:
      from = "runs INDEXED BY runs_by_user";
      inner.push_back("user = ?");
      b.push_back(Text(f.user));
      break;
    case Driver::kUserState:
      from = "runs INDEXED BY runs_by_user_state";
      inner.push_back("state = ?");
      inner.push_back("user = ?");
      b.push_back(Text(f.user));
      break;
    case Driver::kWorkflowType:
      from = "runs INDEXED BY runs_by_workflow_type";
      inner.push_back("workflow_type = ?");
      b.push_back(Text(f.workflow_type));
      break;
    case Driver::kTag:
      from = "run_tags";
      seq = "run_seq";
      inner.push_back("key = ?");
      inner.push_back("value = ?");
      b.push_back(Text(f.tags[plan.tag].first));
      b.push_back(Text(f.tags[plan.tag].second));
      break;
    case Driver::kName: {
      from = "runs INDEXED BY runs_by_name";
      inner.push_back("name IS NOT NULL");
      inner.push_back("name >= ?");
      b.push_back(Text(f.name_prefix));
      std::string end = PrefixEnd(f.name_prefix);
      if (!end.empty()) {
        inner.push_back("name < ?");
        b.push_back(Text(end));
      }
      break;
    }
    case Driver::kUpdated:
      from = "runs INDEXED BY runs_by_updated";
      break;
    case Driver::kStateUpdated:
      from = "runs INDEXED BY runs_by_state_updated";
      inner.push_back("state = ?");
      break;
    case Driver::kUserUpdated:
      from = "runs INDEXED BY runs_by_user_updated";
      inner.push_back("user = ?");
      b.push_back(Text(f.user));
      break;
  }
  // Keyset cursor; the first page starts from the far end, so that every scan is a range
  // search of its index (one SQL text per query shape, with or without a cursor). The
  // submitted range's seq bounds apply to the submitted sorts only.
  if (updated) {
    const int64_t far =
        desc ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
    RunCursor after = q.after.value_or(RunCursor{far, far});
    const char* cmp = desc ? "<" : ">";
    inner.push_back(std::string("updated_at ") + cmp + "= ?");
    b.push_back(Int(after.key));
    inner.push_back(std::string("(updated_at ") + cmp + " ? OR seq " + cmp + " ?)");
    b.push_back(Int(after.key));
    b.push_back(Int(after.seq));
  } else {
    // One range on seq: the submitted range's seq bounds and the cursor combined.
    int64_t lo = plan.seq_lo.value_or(std::numeric_limits<int64_t>::min());
    int64_t hi = plan.seq_hi.value_or(std::numeric_limits<int64_t>::max());
    if (q.after && desc) hi = std::min(hi, q.after->seq);
    if (q.after && !desc) lo = std::max(lo, q.after->seq + 1);
    inner.push_back(seq + " >= ?");
    b.push_back(Int(lo));
    inner.push_back(seq + " < ?");
    b.push_back(Int(hi));
  }
  // Tag filters need only the seq, which every driver index holds: checked in the inner
  // query, so that a run row is read only for a run that has the tags (with a user + state +
  // tag filter, about half of what the driver yields would otherwise be read for nothing).
  const std::string driver_seq = (plan.driver == Driver::kTag ? "run_tags." : "runs.") + seq;
  for (size_t i = 0; i < f.tags.size(); ++i) {
    if (plan.driver == Driver::kTag && static_cast<int>(i) == plan.tag) continue;
    inner.push_back(
        "EXISTS (SELECT 1 FROM run_tags AS x WHERE x.key = ? AND x.value = ? AND "
        "x.run_seq = " +
        driver_seq + ")");
    b.push_back(Text(f.tags[i].first));
    b.push_back(Text(f.tags[i].second));
  }
  const char* dir = desc ? " DESC" : " ASC";
  if (plan.driver == Driver::kUserState && q.summary) {
    // runs_by_user_state covers a listing's columns (0008): one search of the index, no join.
    std::vector<std::string> all = inner;
    AppendResiduals(f, plan, &all, &b);
    std::string text = "SELECT " + QualifiedRunColumns(q.summary) + " FROM " + from;
    for (size_t i = 0; i < all.size(); ++i) text += (i == 0 ? " WHERE " : " AND ") + all[i];
    text += std::string(" ORDER BY seq") + dir;
    if (with_limit) {
      text += " LIMIT ?";
      b.push_back(Int(int64_t{q.page_size} + 1));
    }
    scan.sql = std::move(text);
    return scan;
  }
  std::string text =
      "SELECT " + QualifiedRunColumns(q.summary) + " FROM (SELECT " + seq + " AS s FROM " + from;
  for (size_t i = 0; i < inner.size(); ++i) text += (i == 0 ? " WHERE " : " AND ") + inner[i];
  if (plan.driver != Driver::kName) {  // the name driver's rows are sorted in memory
    text += updated ? std::string(" ORDER BY updated_at") + dir + ", seq" + dir
                    : " ORDER BY " + seq + dir;
  }
  // LIMIT keeps the subquery a co-routine (not flattened into the join).
  text += " LIMIT -1) AS d CROSS JOIN runs ON runs.seq = d.s";

  AppendResiduals(f, plan, &residual, &b);
  for (size_t i = 0; i < residual.size(); ++i) {
    text += (i == 0 ? " WHERE " : " AND ") + residual[i];
  }
  if (with_limit && plan.driver != Driver::kName) {
    text += " LIMIT ?";
    b.push_back(Int(int64_t{q.page_size} + 1));
  }
  scan.sql = std::move(text);
  return scan;
}

Status BindAll(Stmt& stmt, const std::vector<Bind>& binds, int first) {
  for (size_t i = 0; i < binds.size(); ++i) {
    int index = first + static_cast<int>(i);
    RETURN_IF_ERROR(binds[i].text ? stmt.BindText(index, binds[i].s)
                                  : stmt.BindInt(index, binds[i].i));
  }
  return Status::Ok();
}

// Reads the maintained counts.
class Counts {
 public:
  explicit Counts(Connection& db) : db_(db) {}

  // Runs in any of `states` (all runs if empty).
  Result<int64_t> States(const std::vector<State>& states) {
    ASSIGN_OR_RETURN(Stmt stmt, db_.Prepare("SELECT state, count FROM run_state_counts"));
    int64_t n = 0;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      if (Wanted(states, stmt.ColumnInt(0))) n += stmt.ColumnInt(1);
    }
    return n;
  }
  // Runs with (dim, key) in any of `states` (all if empty).
  Result<int64_t> Dim(int dim, const std::string& key, const std::vector<State>& states) {
    ASSIGN_OR_RETURN(Stmt stmt, db_.Prepare("SELECT state, count FROM run_counts "
                                            "WHERE dim = ?1 AND key = ?2"));
    RETURN_IF_ERROR(stmt.BindInt(1, dim));
    RETURN_IF_ERROR(stmt.BindText(2, key));
    int64_t n = 0;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      if (Wanted(states, stmt.ColumnInt(0))) n += stmt.ColumnInt(1);
    }
    return n;
  }

 private:
  static bool Wanted(const std::vector<State>& states, int64_t state) {
    if (states.empty()) return true;
    for (State s : states) {
      if (static_cast<int64_t>(s) == state) return true;
    }
    return false;
  }
  Connection& db_;
};

std::string TagKey(const std::pair<std::string, std::string>& tag) {
  return tag.first + "=" + tag.second;
}

// The first seq whose submitted_at is >= `at` (nullopt: none), through runs_by_submitted.
Result<std::optional<int64_t>> FirstSeqSubmittedAtOrAfter(Connection& db, Micros at) {
  ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("SELECT seq FROM runs INDEXED BY runs_by_submitted "
                                         "WHERE submitted_at >= ?1 "
                                         "ORDER BY submitted_at, seq LIMIT 1"));
  RETURN_IF_ERROR(stmt.BindInt(1, at));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(stmt.ColumnInt(0));
}

// Seq bounds of the submitted range; `empty` when no run can match.
Status SeqBounds(Connection& db, const RunFilter& f, Plan* plan, bool* empty) {
  *empty = false;
  if (f.submitted_after) {
    ASSIGN_OR_RETURN(std::optional<int64_t> lo, FirstSeqSubmittedAtOrAfter(db, *f.submitted_after));
    if (!lo) {
      *empty = true;
      return Status::Ok();
    }
    plan->seq_lo = lo;
  }
  if (f.submitted_before) {
    ASSIGN_OR_RETURN(std::optional<int64_t> hi,
                     FirstSeqSubmittedAtOrAfter(db, *f.submitted_before));
    plan->seq_hi = hi;  // none: every run is submitted before
    if (hi && plan->seq_lo && *hi <= *plan->seq_lo) *empty = true;
  }
  return Status::Ok();
}

// Up to `limit` + 1 runs whose name starts with `prefix`.
Result<int64_t> CountNamePrefix(Connection& db, const std::string& prefix, int64_t limit) {
  std::string end = PrefixEnd(prefix);
  std::string text =
      "SELECT count(*) FROM (SELECT 1 FROM runs INDEXED BY runs_by_name "
      "WHERE name IS NOT NULL AND name >= ?1";
  if (!end.empty()) text += " AND name < ?3";
  text += " LIMIT ?2)";
  ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(text));
  RETURN_IF_ERROR(stmt.BindText(1, prefix));
  RETURN_IF_ERROR(stmt.BindInt(2, limit + 1));
  if (!end.empty()) RETURN_IF_ERROR(stmt.BindText(3, end));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.ColumnInt(0) : 0;
}

// Chooses the driving index with the fewest rows to walk.
Result<Plan> Choose(Connection& db, const RunListQuery& q) {
  const RunFilter& f = q.filter;
  Counts counts(db);
  Plan best;
  int64_t best_rows = std::numeric_limits<int64_t>::max();
  auto consider = [&](Driver d, int64_t rows, int tag = -1) {
    if (rows < best_rows) {
      best_rows = rows;
      best.driver = d;
      best.tag = tag;
    }
  };
  const bool updated = IsUpdatedSort(q.sort);
  if (!f.user.empty()) {
    if (updated) {
      ASSIGN_OR_RETURN(int64_t n, counts.Dim(kDimUser, f.user, {}));
      consider(Driver::kUserUpdated, n);
    } else if (!f.states.empty()) {
      ASSIGN_OR_RETURN(int64_t n, counts.Dim(kDimUser, f.user, f.states));
      consider(Driver::kUserState, n);
    } else {
      ASSIGN_OR_RETURN(int64_t n, counts.Dim(kDimUser, f.user, {}));
      consider(Driver::kUser, n);
    }
  }
  if (!updated) {
    if (!f.workflow_type.empty()) {
      ASSIGN_OR_RETURN(int64_t n, counts.Dim(kDimWorkflowType, f.workflow_type, {}));
      consider(Driver::kWorkflowType, n);
    }
    for (size_t i = 0; i < f.tags.size(); ++i) {
      ASSIGN_OR_RETURN(int64_t n, counts.Dim(kDimTag, TagKey(f.tags[i]), {}));
      consider(Driver::kTag, n, static_cast<int>(i));
    }
  }
  if (!f.states.empty()) {
    ASSIGN_OR_RETURN(int64_t n, counts.States(f.states));
    consider(updated ? Driver::kStateUpdated : Driver::kState, n);
  }
  if (!f.name_prefix.empty()) {
    ASSIGN_OR_RETURN(int64_t n, CountNamePrefix(db, f.name_prefix, kNameDriveLimit));
    if (n <= kNameDriveLimit) consider(Driver::kName, n);
  }
  ASSIGN_OR_RETURN(int64_t total, counts.States({}));
  consider(updated ? Driver::kUpdated : Driver::kSeq, total);
  return best;
}

}  // namespace

Result<RunPage> QueryRuns(Connection& db, const RunListQuery& q) {
  if (q.page_size < 1) return InvalidArgument("page_size must be positive");
  ASSIGN_OR_RETURN(Plan plan, Choose(db, q));
  RunPage page;
  if (!IsUpdatedSort(q.sort) && (q.filter.submitted_after || q.filter.submitted_before)) {
    bool empty = false;
    RETURN_IF_ERROR(SeqBounds(db, q.filter, &plan, &empty));
    if (empty) return page;
  }
  const bool updated = IsUpdatedSort(q.sort);
  const bool desc = IsDesc(q.sort);
  Scan scan = BuildScan(q, plan, /*with_limit=*/true);
  ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(scan.sql));
  // Rows go straight into the page (a RunRecord is large: each move costs).
  std::vector<RunRecord>& rows = page.runs;
  rows.reserve(static_cast<size_t>(q.page_size) + 1);
  auto read_all = [&]() -> Status {
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(RunRecord run, q.summary ? ReadRunSummary(stmt) : ReadRun(stmt));
      rows.push_back(std::move(run));
    }
    stmt.Reset();
    return Status::Ok();
  };
  size_t scans = 1;
  if (PerState(plan.driver)) {
    std::vector<State> states = q.filter.states;
    std::sort(states.begin(), states.end());
    states.erase(std::unique(states.begin(), states.end()), states.end());
    scans = states.size();
    for (State s : states) {
      RETURN_IF_ERROR(stmt.BindInt(1, static_cast<int64_t>(s)));
      RETURN_IF_ERROR(BindAll(stmt, scan.binds, 2));
      RETURN_IF_ERROR(read_all());
    }
  } else {
    RETURN_IF_ERROR(BindAll(stmt, scan.binds, 1));
    RETURN_IF_ERROR(read_all());
  }
  // Merge the per-state scans (or order the name-driven rows) by (key, seq); one scan's rows
  // are in order already.
  if (scans > 1 || plan.driver == Driver::kName) {
    auto key = [updated](const RunRecord& r) { return updated ? r.updated_at : 0; };
    std::sort(rows.begin(), rows.end(), [&](const RunRecord& a, const RunRecord& b) {
      if (key(a) != key(b)) return desc ? key(a) > key(b) : key(a) < key(b);
      return desc ? a.seq > b.seq : a.seq < b.seq;
    });
  }
  if (rows.size() > static_cast<size_t>(q.page_size)) {
    rows.resize(static_cast<size_t>(q.page_size));
    const RunRecord& last = rows.back();
    page.next = RunCursor{updated ? last.updated_at : 0, last.seq};
  }
  return page;
}

Result<RunCount> CountMatchingRuns(Connection& db, const RunFilter& f) {
  Counts counts(db);
  ASSIGN_OR_RETURN(int64_t base, counts.States(f.states));
  std::vector<std::pair<int, std::string>> dims;
  if (!f.user.empty()) dims.emplace_back(kDimUser, f.user);
  if (!f.workflow_type.empty()) dims.emplace_back(kDimWorkflowType, f.workflow_type);
  for (const auto& tag : f.tags) dims.emplace_back(kDimTag, TagKey(tag));
  RunCount out;
  const bool ranged = f.submitted_after || f.submitted_before || !f.name_prefix.empty();
  if (dims.size() <= 1 && !ranged) {
    if (dims.empty()) {
      out.count = base;
    } else {
      ASSIGN_OR_RETURN(out.count, counts.Dim(dims[0].first, dims[0].second, f.states));
    }
    return out;
  }
  out.exact = false;
  if (base == 0) return out;
  std::vector<int64_t> dim_counts;
  for (const auto& [dim, key] : dims) {
    ASSIGN_OR_RETURN(int64_t n, counts.Dim(dim, key, f.states));
    dim_counts.push_back(n);
  }
  double share = 1.0;
  if (f.submitted_after || f.submitted_before) {
    // The share of seqs inside the range's seq bounds.
    ASSIGN_OR_RETURN(Stmt ends, db.Prepare("SELECT min(seq), max(seq) FROM runs"));
    ASSIGN_OR_RETURN(bool row, ends.Step());
    int64_t first = row ? ends.ColumnInt(0) : 0;
    int64_t last = row ? ends.ColumnInt(1) : 0;
    ends.Reset();
    Plan plan;
    bool empty = false;
    RETURN_IF_ERROR(SeqBounds(db, f, &plan, &empty));
    if (empty || last < first) return out;
    double span = static_cast<double>(last - first + 1);
    double inside = static_cast<double>(plan.seq_hi.value_or(last + 1) -
                                        plan.seq_lo.value_or(first));
    share *= std::clamp(inside / span, 0.0, 1.0);
  }
  if (!f.name_prefix.empty()) {
    ASSIGN_OR_RETURN(int64_t total, counts.States({}));
    ASSIGN_OR_RETURN(int64_t n, CountNamePrefix(db, f.name_prefix, kNameEstimateLimit));
    if (total > 0) share *= std::min(1.0, static_cast<double>(n) / static_cast<double>(total));
  }
  out.count = EstimateMatchingRuns(base, dim_counts, share);
  return out;
}

std::vector<std::string> CandidateRunScansForTesting(const RunListQuery& q) {
  const RunFilter& f = q.filter;
  const bool updated = IsUpdatedSort(q.sort);
  std::vector<Plan> plans;
  auto add = [&](Driver d, int tag = -1) {
    Plan p;
    p.driver = d;
    p.tag = tag;
    if (!updated && f.submitted_after) p.seq_lo = 1;
    if (!updated && f.submitted_before) p.seq_hi = 2;
    plans.push_back(p);
  };
  if (!f.user.empty()) {
    add(updated ? Driver::kUserUpdated : f.states.empty() ? Driver::kUser : Driver::kUserState);
  }
  if (!updated) {
    if (!f.workflow_type.empty()) add(Driver::kWorkflowType);
    for (size_t i = 0; i < f.tags.size(); ++i) add(Driver::kTag, static_cast<int>(i));
  }
  if (!f.states.empty()) add(updated ? Driver::kStateUpdated : Driver::kState);
  if (!f.name_prefix.empty()) add(Driver::kName);
  add(updated ? Driver::kUpdated : Driver::kSeq);
  std::vector<std::string> out;
  for (const Plan& p : plans) out.push_back(BuildScan(q, p, /*with_limit=*/true).sql);
  return out;
}

}  // namespace sluice::store::sqlite
