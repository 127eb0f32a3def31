#include "store/sqlite/write_ops.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite/archive_ops.h"
#include "store/sqlite/history_ops.h"
#include "store/sqlite/outbox_ops.h"
#include "store/sqlite/statements.h"
#include "store/sqlite/stats_ops.h"
#include "store/sqlite/task_state_ops.h"
#include "store/sqlite/transition_rules.h"

namespace sluice::store::sqlite {
namespace {

constexpr char kRunStateChanged[] = "RunStateChanged";
constexpr char kTaskStateChanged[] = "TaskStateChanged";
constexpr char kTaskCreated[] = "TaskCreated";
constexpr char kTagsChanged[] = "TagsChanged";

int64_t StateValue(State s) { return static_cast<int64_t>(s); }

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// Queues the history event (history_ops.h) and the same event for the outbox (outbox_ops.h),
// which the writer stores with this write. `run_id`/`task_id` ("" for run events) go into the
// outbox.
Status InsertHistory(Connection& db, int64_t run_seq, std::string_view run_id,
                     std::optional<int64_t> task_seq, std::string_view task_id,
                     std::string_view type, State from, State to, Micros at,
                     std::string_view reason) {
  int type_code = HistoryTypeCode(type);
  RETURN_IF_ERROR(PendingHistory().Add(db, run_seq, task_seq, type_code, from, to, at, reason));
  PendingOutbox().Add(run_id, task_id, type_code, from, to, at, reason);
  return Status::Ok();
}

struct RunSeqState {
  int64_t seq;
  State state;
};

Result<std::optional<RunSeqState>> FindRun(Connection& db, std::string_view run_id) {
  ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql::kRunSeqById));
  RETURN_IF_ERROR(stmt.BindText(1, run_id));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<RunSeqState>();
  return std::optional<RunSeqState>(
      RunSeqState{stmt.ColumnInt(0), StateFromColumn(stmt.ColumnInt(1))});
}

Status NoSuchRun(std::string_view run_id) {
  return NotFound("run " + Quote(run_id) + " not found");
}

// What one batch of task transitions (TransitionTasksOp) learns about each run it touches, so
// a run is looked up once per batch, not once per event: its seq and state, and the seqs of
// its tasks by id when it has few (one read of the run's ids instead of one per event). Valid
// only inside the batch's transaction, in which nothing else writes.
class BatchRuns {
 public:
  struct Entry {
    RunSeqState run;
    bool ids_read = false;
    // (id, seq) of each task; empty if the run has many tasks. At most 64 entries, searched
    // in place: no hashing and no node to allocate per task.
    std::vector<std::pair<std::string, int64_t>> task_seqs;
  };

  // nullptr: no such run.
  Result<Entry*> Find(Connection& db, std::string_view run_id) {
    auto it = runs_.find(run_id);
    if (it != runs_.end()) return &it->second;
    ASSIGN_OR_RETURN(std::optional<RunSeqState> run, FindRun(db, run_id));
    if (!run.has_value()) return static_cast<Entry*>(nullptr);
    Entry e;
    e.run = *run;
    return &runs_.emplace(std::string(run_id), std::move(e)).first->second;
  }

  // The seq of task `task_id` of the entry's run if the run's ids were read (up to
  // kTaskSeqsOfRunLimit of them) and it is one; nullopt: ask the task index.
  static Result<std::optional<int64_t>> TaskSeq(Connection& db, Entry& e,
                                                std::string_view task_id) {
    if (!e.ids_read) {
      e.ids_read = true;
      ASSIGN_OR_RETURN(Stmt ids, db.Prepare(sql::kTaskSeqsOfRun));
      RETURN_IF_ERROR(ids.BindInt(1, e.run.seq));
      for (;;) {
        ASSIGN_OR_RETURN(bool row, ids.Step());
        if (!row) break;
        e.task_seqs.emplace_back(ids.ColumnText(0), ids.ColumnInt(1));
      }
      // Past the limit the run may have more: a miss would not mean "no such task".
      if (e.task_seqs.size() >= static_cast<size_t>(sql::kTaskSeqsOfRunLimit)) e.task_seqs.clear();
    }
    auto it = std::find_if(e.task_seqs.begin(), e.task_seqs.end(),
                           [task_id](const auto& entry) { return entry.first == task_id; });
    if (it == e.task_seqs.end()) return std::optional<int64_t>();
    return std::optional<int64_t>(it->second);
  }

 private:
  std::map<std::string, Entry, std::less<>> runs_;
};

// The run's tag rows (run_tags), written with the run; their trigger counts them.
Status InsertRunTags(Connection& db, int64_t run_seq, const StringMap& tags) {
  if (tags.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(Stmt insert, db.Prepare(sql::kInsertRunTag));
  for (const auto& [key, value] : tags) {
    insert.Reset();
    RETURN_IF_ERROR(insert.BindText(1, key));
    RETURN_IF_ERROR(insert.BindText(2, value));
    RETURN_IF_ERROR(insert.BindInt(3, run_seq));
    RETURN_IF_ERROR(insert.Run());
  }
  return Status::Ok();
}

}  // namespace

Status CreateRunOp(Connection& db, const NewRun& run, const EncodedRequest& encoded,
                   CreateRunResult* out) {
  if (!run.idempotency_key.empty()) {
    ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql::kRunByIdempotencyKey));
    RETURN_IF_ERROR(stmt.BindText(1, run.idempotency_key));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row) {
      ASSIGN_OR_RETURN(RunRecord existing, ReadRun(stmt));
      if (!(existing.request == run.request)) {
        return Conflict("idempotency key " + Quote(run.idempotency_key) +
                        " was already used for a different request (run " + existing.id + ")");
      }
      *out = CreateRunResult{existing.id, false};
      return Status::Ok();
    }
  }
  ASSIGN_OR_RETURN(std::optional<RunSeqState> existing, FindRun(db, run.id));
  if (existing.has_value()) return AlreadyExists("run " + Quote(run.id) + " already exists");

  ASSIGN_OR_RETURN(Stmt insert, db.Prepare(sql::kInsertRun));
  const RunRequest& r = run.request;
  RETURN_IF_ERROR(insert.BindText(1, run.id));
  RETURN_IF_ERROR(insert.BindInt(2, StateValue(State::kQueued)));
  RETURN_IF_ERROR(insert.BindText(3, r.workflow_type));
  RETURN_IF_ERROR(insert.BindText(4, r.workflow_type_version));
  RETURN_IF_ERROR(insert.BindText(5, r.workflow_url));
  RETURN_IF_ERROR(insert.BindText(6, r.workflow_params));
  RETURN_IF_ERROR(insert.BindText(7, r.workflow_engine));
  RETURN_IF_ERROR(insert.BindText(8, r.workflow_engine_version));
  RETURN_IF_ERROR(insert.BindTextOrNull(9, encoded.engine_params));
  RETURN_IF_ERROR(insert.BindBlobOrNull(10, encoded.tags_blob));
  RETURN_IF_ERROR(insert.BindTextOrNull(11, encoded.attachments));
  RETURN_IF_ERROR(insert.BindInt(12, run.submitted_at));
  RETURN_IF_ERROR(insert.BindTextOrNull(13, run.idempotency_key));
  RETURN_IF_ERROR(insert.BindText(14, run.user.empty() ? std::string_view("anonymous")
                                                       : std::string_view(run.user)));
  auto name = r.tags.find("name");
  RETURN_IF_ERROR(insert.BindTextOrNull(15, name == r.tags.end() ? "" : name->second));
  RETURN_IF_ERROR(insert.Run());
  int64_t seq = db.LastInsertRowid();
  RETURN_IF_ERROR(InsertRunTags(db, seq, r.tags));
  RETURN_IF_ERROR(InsertHistory(db, seq, run.id, std::nullopt, "", kRunStateChanged,
                                State::kUnknown, State::kQueued, run.submitted_at, "submitted"));
  *out = CreateRunResult{run.id, true};
  return Status::Ok();
}

Status TransitionRunOp(Connection& db, const RunTransition& t, TransitionOutcome* out) {
  ASSIGN_OR_RETURN(Stmt row, db.Prepare(sql::kRunForTransition));
  RETURN_IF_ERROR(row.BindText(1, t.run_id));
  ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return NoSuchRun(t.run_id);
  int64_t seq = row.ColumnInt(0);
  StoredRunState state;
  state.state = StateFromColumn(row.ColumnInt(1));
  state.start_time = row.ColumnOptionalInt(2);
  state.end_time = row.ColumnOptionalInt(3);
  state.outputs = row.ColumnText(4);
  state.system_logs = row.ColumnText(5);
  state.updated_at = row.ColumnInt(6);
  const State from = state.state;
  ASSIGN_OR_RETURN(bool write, ApplyRunTransition(t, state, out));
  if (!write) return Status::Ok();
  ASSIGN_OR_RETURN(Stmt update, db.Prepare(sql::kUpdateRun));
  RETURN_IF_ERROR(update.BindInt(1, seq));
  RETURN_IF_ERROR(update.BindInt(2, StateValue(t.to)));
  RETURN_IF_ERROR(update.BindInt(3, state.updated_at));
  RETURN_IF_ERROR(update.BindOptionalInt(4, state.start_time));
  RETURN_IF_ERROR(update.BindOptionalInt(5, state.end_time));
  RETURN_IF_ERROR(update.BindTextOrNull(6, state.outputs));
  RETURN_IF_ERROR(update.BindTextOrNull(7, state.system_logs));
  RETURN_IF_ERROR(update.Run());
  if (!out->changed) return Status::Ok();
  RETURN_IF_ERROR(
      InsertHistory(db, seq, t.run_id, std::nullopt, "", kRunStateChanged, from, t.to, t.at,
                    t.reason));
  if (!IsTerminal(t.to)) return Status::Ok();
  // Entering a terminal state: the run joins the stats roll-ups in this transaction.
  return AddRunToStatsOp(db, seq, t.to, state.start_time, state.end_time.value_or(t.at), t.usage);
}

namespace {

// One task of CreateTasksOp; its state entry goes into `states`, which the caller flushes.
Status CreateTaskIn(Connection& db, const TaskRecord& task, const EncodedTask& encoded,
                    TaskStateCache& states, bool* created) {
  ASSIGN_OR_RETURN(std::optional<RunSeqState> run, FindRun(db, task.run_id));
  if (!run.has_value()) return NoSuchRun(task.run_id);
  {
    ASSIGN_OR_RETURN(Stmt exists, db.Prepare(sql::kTaskExists));
    RETURN_IF_ERROR(exists.BindInt(1, run->seq));
    RETURN_IF_ERROR(exists.BindText(2, task.id));
    ASSIGN_OR_RETURN(bool row, exists.Step());
    if (row) {
      *created = false;
      return Status::Ok();
    }
  }
  if (IsTerminal(run->state)) {
    // An archived run's tasks are in its blob (archive_ops.h): one there exists too.
    ASSIGN_OR_RETURN(std::optional<State> archived, ArchivedTaskState(db, run->seq, task.id));
    if (archived.has_value()) {
      *created = false;
      return Status::Ok();
    }
    return FailedPrecondition("run " + Quote(task.run_id) + " is " +
                              std::string(StateName(run->state)) + "; no new tasks");
  }
  ASSIGN_OR_RETURN(Stmt insert, db.Prepare(sql::kInsertTask));
  RETURN_IF_ERROR(insert.BindInt(1, run->seq));
  RETURN_IF_ERROR(insert.BindText(2, task.id));
  RETURN_IF_ERROR(insert.BindText(3, task.name));
  RETURN_IF_ERROR(insert.BindTextOrNull(4, encoded.cmd));
  RETURN_IF_ERROR(insert.BindText(5, task.executor));
  RETURN_IF_ERROR(insert.BindInt(6, task.created_at));
  RETURN_IF_ERROR(insert.BindTextOrNull(7, task.launch_spec));
  ASSIGN_OR_RETURN(bool returned, insert.Step());
  if (!returned) return Internal("task insert returned no seq");
  int64_t task_seq = insert.ColumnInt(0);
  RETURN_IF_ERROR(insert.Run());  // steps to the end of RETURNING
  StoredTaskState state;
  state.state = task.state;
  state.executor_job_id = task.executor_job_id;
  if (task.exit_code.has_value()) state.exit_code = *task.exit_code;
  state.start_time = task.start_time;
  state.end_time = task.end_time;
  state.system_logs = encoded.logs;
  state.updated_at = std::max(task.updated_at, task.created_at);
  RETURN_IF_ERROR(states.Append(db, run->seq, task_seq, std::move(state)));
  RETURN_IF_ERROR(InsertHistory(db, run->seq, task.run_id, task_seq, task.id, kTaskCreated,
                                State::kUnknown, task.state, task.created_at, "created"));
  *created = true;
  return Status::Ok();
}

}  // namespace

Status CreateTasksOp(Connection& db, const std::vector<TaskRecord>& tasks,
                     const std::vector<EncodedTask>& encoded, std::vector<bool>* created) {
  created->assign(tasks.size(), false);
  TaskStateCache states;
  for (size_t i = 0; i < tasks.size(); ++i) {
    bool one = false;
    RETURN_IF_ERROR(CreateTaskIn(db, tasks[i], encoded[i], states, &one));
    (*created)[i] = one;
  }
  return states.Flush(db);
}

namespace {

// TransitionTaskOp, with the run looked up through `batch` when given; the task's state is
// read and changed through `states`, which the caller flushes.
Status TransitionTaskIn(Connection& db, const TaskTransition& t, TransitionOutcome* out,
                        BatchRuns* batch, TaskStateCache& states) {
  std::optional<RunSeqState> run;
  BatchRuns::Entry* entry = nullptr;
  if (batch != nullptr) {
    ASSIGN_OR_RETURN(entry, batch->Find(db, t.run_id));
    if (entry != nullptr) run = entry->run;
  } else {
    ASSIGN_OR_RETURN(run, FindRun(db, t.run_id));
  }
  if (!run.has_value()) return NoSuchRun(t.run_id);
  std::optional<int64_t> task_seq;
  if (entry != nullptr) {
    ASSIGN_OR_RETURN(task_seq, BatchRuns::TaskSeq(db, *entry, t.task_id));
  }
  if (!task_seq.has_value()) {
    ASSIGN_OR_RETURN(Stmt row, db.Prepare(sql::kTaskSeqById));
    RETURN_IF_ERROR(row.BindInt(1, run->seq));
    RETURN_IF_ERROR(row.BindText(2, t.task_id));
    ASSIGN_OR_RETURN(bool found, row.Step());
    if (found) task_seq = row.ColumnInt(0);
  }
  // Built only for an error: this is state sync's hot path.
  auto name = [&t] { return Quote(std::string(t.run_id) + "/" + t.task_id); };
  if (!task_seq.has_value() && IsTerminal(run->state)) {
    // An archived run is read-only: its tasks are terminal, a same-state repeat changes (and
    // fills in) nothing, anything else moves out of a terminal state.
    ASSIGN_OR_RETURN(std::optional<State> archived, ArchivedTaskState(db, run->seq, t.task_id));
    if (archived.has_value()) {
      if (*archived == t.to) {
        *out = TransitionOutcome{*archived, false};
        return Status::Ok();
      }
      return FailedPrecondition("task " + name() + " cannot move from " +
                                std::string(StateName(*archived)) + " to " +
                                std::string(StateName(t.to)));
    }
  }
  if (!task_seq.has_value()) return NotFound("task " + name() + " not found");
  const int64_t seq = *task_seq;
  ASSIGN_OR_RETURN(StoredTaskState * stored, states.Find(db, run->seq, seq));
  if (stored == nullptr) return Internal("task " + name() + " has no state entry");
  StoredTaskState state = *stored;
  const State from = state.state;
  ASSIGN_OR_RETURN(bool write, ApplyTaskTransition(t, state, out));
  if (!write) return Status::Ok();
  *stored = std::move(state);
  states.Changed(run->seq, seq);
  if (!out->changed) return Status::Ok();
  return InsertHistory(db, run->seq, t.run_id, seq, t.task_id, kTaskStateChanged, from, t.to, t.at,
                       t.reason);
}

}  // namespace

Status TransitionTaskOp(Connection& db, const TaskTransition& t, TransitionOutcome* out) {
  TaskStateCache states;
  RETURN_IF_ERROR(TransitionTaskIn(db, t, out, nullptr, states));
  return states.Flush(db);
}

Status TransitionTasksOp(Connection& db, const std::vector<TaskTransition>& ts,
                         std::vector<Result<TransitionOutcome>>* out) {
  out->clear();
  out->reserve(ts.size());
  BatchRuns runs;
  TaskStateCache states;  // each changed chunk is written once, after the batch
  for (const TaskTransition& t : ts) {
    TransitionOutcome outcome;
    Status st = TransitionTaskIn(db, t, &outcome, &runs, states);
    if (st.ok()) {
      out->emplace_back(outcome);
      continue;
    }
    switch (st.code()) {
      // Refusals happen before the op writes anything: this entry only.
      case StatusCode::kNotFound:
      case StatusCode::kFailedPrecondition:
      case StatusCode::kInvalidArgument:
        out->emplace_back(std::move(st));
        break;
      default:
        return st;  // storage trouble, maybe half-written: the whole batch rolls back
    }
  }
  return states.Flush(db);
}

Status ClaimRunsOp(Connection& db, const ClaimRequest& req, std::vector<RunRecord>* out) {
  ASSIGN_OR_RETURN(Stmt claim,
                   db.Prepare(req.include_owned ? sql::kClaimRuns : sql::kClaimFreeRuns));
  RETURN_IF_ERROR(claim.BindText(1, req.owner));
  RETURN_IF_ERROR(claim.BindInt(2, req.now));
  RETURN_IF_ERROR(claim.BindInt(3, req.lease_until));
  RETURN_IF_ERROR(claim.BindInt(4, req.limit));
  std::vector<RunRecord> runs;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, claim.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(RunRecord run, ReadRun(claim));
    runs.push_back(std::move(run));
  }
  std::sort(runs.begin(), runs.end(),
            [](const RunRecord& a, const RunRecord& b) { return a.seq < b.seq; });
  *out = std::move(runs);
  return Status::Ok();
}

Status RenewLeasesOp(Connection& db, std::string_view owner, Micros lease_until) {
  ASSIGN_OR_RETURN(Stmt renew, db.Prepare(sql::kRenewLeases));
  RETURN_IF_ERROR(renew.BindText(1, owner));
  RETURN_IF_ERROR(renew.BindInt(2, lease_until));
  return renew.Run();
}

Status AppendRunEventsOp(Connection& db, std::string_view run_id,
                         const std::vector<RunEvent>& events, int64_t* last_seq) {
  ASSIGN_OR_RETURN(std::optional<RunSeqState> run, FindRun(db, run_id));
  if (!run.has_value()) return NoSuchRun(run_id);
  int64_t seq;
  {
    ASSIGN_OR_RETURN(Stmt last, db.Prepare(sql::kLastRunEventSeq));
    RETURN_IF_ERROR(last.BindInt(1, run->seq));
    ASSIGN_OR_RETURN(bool row, last.Step());
    seq = row ? last.ColumnInt(0) : 0;
  }
  ASSIGN_OR_RETURN(Stmt insert, db.Prepare(sql::kInsertRunEvent));
  for (const RunEvent& e : events) {
    insert.Reset();
    RETURN_IF_ERROR(insert.BindInt(1, run->seq));
    RETURN_IF_ERROR(insert.BindInt(2, ++seq));
    RETURN_IF_ERROR(insert.BindText(3, e.type));
    RETURN_IF_ERROR(insert.BindInt(4, e.at));
    RETURN_IF_ERROR(insert.BindText(5, e.state_name));
    RETURN_IF_ERROR(insert.BindText(6, e.scope));
    RETURN_IF_ERROR(insert.BindText(7, e.details));
    RETURN_IF_ERROR(insert.BindInt(8, e.replay ? 1 : 0));
    RETURN_IF_ERROR(insert.Run());
  }
  *last_seq = seq;
  return Status::Ok();
}

Status UpdateTagsOp(Connection& db, std::string_view run_id, const StringMap& set,
                    const std::vector<std::string>& remove, Micros at, int64_t* run_seq) {
  ASSIGN_OR_RETURN(Stmt row, db.Prepare(sql::kRunForTagUpdate));
  RETURN_IF_ERROR(row.BindText(1, run_id));
  ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return NoSuchRun(run_id);
  int64_t seq = row.ColumnInt(0);
  State state = StateFromColumn(row.ColumnInt(1));
  ASSIGN_OR_RETURN(StringMap tags, ReadTags(row, 2));
  Micros updated_at = row.ColumnInt(3);
  *run_seq = seq;

  TagPatch patch = PlanTagPatch(std::move(tags), set, remove);
  ASSIGN_OR_RETURN(Stmt del, db.Prepare(sql::kDeleteRunTag));
  for (const auto& [key, value] : patch.drop) {
    del.Reset();
    RETURN_IF_ERROR(del.BindText(1, key));
    RETURN_IF_ERROR(del.BindText(2, value));
    RETURN_IF_ERROR(del.BindInt(3, seq));
    RETURN_IF_ERROR(del.Run());
  }
  ASSIGN_OR_RETURN(Stmt ins, db.Prepare(sql::kInsertRunTag));
  for (const auto& [key, value] : patch.insert) {
    ins.Reset();
    RETURN_IF_ERROR(ins.BindText(1, key));
    RETURN_IF_ERROR(ins.BindText(2, value));
    RETURN_IF_ERROR(ins.BindInt(3, seq));
    RETURN_IF_ERROR(ins.Run());
  }
  if (patch.change.empty()) return Status::Ok();                  // nothing changed: no event
  RETURN_IF_ERROR(EncodeStringMap(patch.tags, "tags").status());  // refuses what JSON cannot hold
  ASSIGN_OR_RETURN(Stmt update, db.Prepare(sql::kUpdateRunTags));
  RETURN_IF_ERROR(update.BindInt(1, seq));
  RETURN_IF_ERROR(update.BindBlobOrNull(2, EncodeTags(patch.tags)));
  auto name = patch.tags.find("name");
  RETURN_IF_ERROR(update.BindTextOrNull(3, name == patch.tags.end() ? "" : name->second));
  RETURN_IF_ERROR(update.BindInt(4, std::max(updated_at, at)));
  RETURN_IF_ERROR(update.Run());
  if (IsTerminal(state)) {
    // An archived run's history is its blob: the event is appended there (archive_ops.h).
    HistoryEvent e;
    e.type = kTagsChanged;
    e.from = state;
    e.to = state;
    e.at = at;
    e.reason = patch.change;
    ASSIGN_OR_RETURN(bool archived, AppendArchivedEventOp(db, seq, std::move(e)));
    if (archived) {
      PendingOutbox().Add(run_id, "", HistoryTypeCode(kTagsChanged), state, state, at,
                          patch.change);
      return Status::Ok();
    }
  }
  return InsertHistory(db, seq, run_id, std::nullopt, "", kTagsChanged, state, state, at,
                       patch.change);
}

}  // namespace sluice::store::sqlite
