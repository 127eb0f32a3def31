#include "testing/fake_run_store.h"

#include <algorithm>
#include <limits>

namespace sluice::store {
namespace {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool IsEmptyOutputs(std::string_view outputs) { return outputs.empty() || outputs == "{}"; }

bool FillIfUnset(std::optional<Micros>& field, const std::optional<Micros>& value) {
  if (field.has_value() || !value.has_value()) return false;
  field = value;
  return true;
}

Status NoSuchRun(std::string_view run_id) {
  return NotFound("run " + Quote(run_id) + " not found");
}

Status CheckPageSize(int page_size) {
  if (page_size < 1) return InvalidArgument("page_size must be positive");
  return Status::Ok();
}

// Pages `rows` (ascending by seq) after `after_seq`; fills `out` and returns the next token.
template <typename T>
std::optional<int64_t> PageAfter(const std::map<int64_t, T>& rows, std::optional<int64_t> after,
                                 int page_size, std::vector<T>& out) {
  for (auto it = rows.upper_bound(after.value_or(0)); it != rows.end(); ++it) {
    if (static_cast<int>(out.size()) == page_size) return out.back().seq;
    out.push_back(it->second);
  }
  return std::nullopt;
}

}  // namespace

RunRecord* FakeRunStore::FindRun(std::string_view run_id) {
  auto it = run_seq_by_id_.find(std::string(run_id));
  return it == run_seq_by_id_.end() ? nullptr : &runs_.at(it->second);
}

void FakeRunStore::AppendHistory(const std::string& run_id, const std::string& task_id,
                                 std::string type, State from, State to, Micros at,
                                 std::string reason) {
  HistoryEvent e;
  e.seq = next_history_seq_++;
  e.run_id = run_id;
  e.task_id = task_id;
  e.type = std::move(type);
  e.from = from;
  e.to = to;
  e.at = at;
  e.reason = std::move(reason);
  history_[run_id].emplace(e.seq, std::move(e));
}

Result<CreateRunResult> FakeRunStore::CreateRun(const NewRun& run) {
  if (run.id.empty()) return InvalidArgument("run id must not be empty");
  MutexLock lock(mu_);
  if (!run.idempotency_key.empty()) {
    auto it = run_seq_by_key_.find(run.idempotency_key);
    if (it != run_seq_by_key_.end()) {
      const RunRecord& existing = runs_.at(it->second);
      if (!(existing.request == run.request)) {
        return Conflict("idempotency key " + Quote(run.idempotency_key) +
                        " was already used for a different request (run " + existing.id + ")");
      }
      return CreateRunResult{existing.id, false};
    }
  }
  if (FindRun(run.id) != nullptr) return AlreadyExists("run " + Quote(run.id) + " already exists");
  RunRecord r;
  r.id = run.id;
  r.seq = next_run_seq_++;
  r.request = run.request;
  r.state = State::kQueued;
  r.submitted_at = run.submitted_at;
  r.updated_at = run.submitted_at;
  r.idempotency_key = run.idempotency_key;
  run_seq_by_id_[r.id] = r.seq;
  if (!run.idempotency_key.empty()) run_seq_by_key_[run.idempotency_key] = r.seq;
  counts_[State::kQueued]++;
  runs_.emplace(r.seq, r);
  AppendHistory(run.id, "", "RunStateChanged", State::kUnknown, State::kQueued, run.submitted_at,
                "submitted");
  return CreateRunResult{run.id, true};
}

Result<RunRecord> FakeRunStore::GetRun(std::string_view run_id) {
  MutexLock lock(mu_);
  RunRecord* run = FindRun(run_id);
  if (run == nullptr) return NoSuchRun(run_id);
  return *run;
}

Result<RunStatusRow> FakeRunStore::GetRunStatus(std::string_view run_id) {
  MutexLock lock(mu_);
  RunRecord* run = FindRun(run_id);
  if (run == nullptr) return NoSuchRun(run_id);
  return RunStatusRow{run->id, run->state};
}

Result<RunPage> FakeRunStore::ListRuns(const RunListQuery& query) {
  RETURN_IF_ERROR(CheckPageSize(query.page_size));
  MutexLock lock(mu_);
  RunPage page;
  auto it = runs_.lower_bound(query.before_seq.value_or(std::numeric_limits<int64_t>::max()));
  while (it != runs_.begin()) {
    --it;
    if (static_cast<int>(page.runs.size()) == query.page_size) {
      page.next_before_seq = page.runs.back().seq;
      break;
    }
    page.runs.push_back(it->second);
  }
  return page;
}

Result<std::map<State, int64_t>> FakeRunStore::CountRunsByState() {
  MutexLock lock(mu_);
  std::map<State, int64_t> counts;
  for (const auto& [state, n] : counts_) {
    if (n > 0) counts[state] = n;
  }
  return counts;
}

Result<TransitionOutcome> FakeRunStore::TransitionRun(const RunTransition& t) {
  MutexLock lock(mu_);
  RunRecord* run = FindRun(t.run_id);
  if (run == nullptr) return NoSuchRun(t.run_id);
  State from = run->state;
  if (t.expected_from.has_value() && *t.expected_from != from) {
    return Conflict("run " + Quote(t.run_id) + " is " + std::string(StateName(from)) +
                    ", expected " + std::string(StateName(*t.expected_from)));
  }
  if (t.to == from) {
    bool changed = FillIfUnset(run->start_time, t.start_time);
    changed |= FillIfUnset(run->end_time, t.end_time);
    if (IsEmptyOutputs(run->outputs) && t.outputs.has_value() && !IsEmptyOutputs(*t.outputs)) {
      run->outputs = *t.outputs;
      changed = true;
    }
    if (changed) run->updated_at = std::max(run->updated_at, t.at);
    return TransitionOutcome{from, false};
  }
  if (!IsForwardTransition(from, t.to)) {
    return FailedPrecondition("run " + Quote(t.run_id) + " cannot move from " +
                              std::string(StateName(from)) + " to " + std::string(StateName(t.to)));
  }
  FillIfUnset(run->start_time, t.start_time);
  FillIfUnset(run->end_time, t.end_time);
  if (t.outputs.has_value()) run->outputs = IsEmptyOutputs(*t.outputs) ? "{}" : *t.outputs;
  if (t.system_log.has_value()) run->system_logs.push_back(*t.system_log);
  run->state = t.to;
  run->updated_at = t.at;
  counts_[from]--;
  counts_[t.to]++;
  AppendHistory(run->id, "", "RunStateChanged", from, t.to, t.at, t.reason);
  return TransitionOutcome{from, true};
}

Result<bool> FakeRunStore::CreateTask(const TaskRecord& task) {
  if (task.id.empty()) return InvalidArgument("task id must not be empty");
  MutexLock lock(mu_);
  RunRecord* run = FindRun(task.run_id);
  if (run == nullptr) return NoSuchRun(task.run_id);
  if (task_seq_by_id_.count({task.run_id, task.id}) > 0) return false;
  if (IsTerminal(run->state)) {
    return FailedPrecondition("run " + Quote(task.run_id) + " is " +
                              std::string(StateName(run->state)) + "; no new tasks");
  }
  TaskRecord t = task;
  t.seq = next_task_seq_++;
  t.updated_at = std::max(t.updated_at, t.created_at);
  task_seq_by_id_[{t.run_id, t.id}] = t.seq;
  tasks_[t.run_id].emplace(t.seq, t);
  AppendHistory(t.run_id, t.id, "TaskCreated", State::kUnknown, t.state, t.created_at, "created");
  return true;
}

Result<TaskRecord> FakeRunStore::GetTask(std::string_view run_id, std::string_view task_id) {
  MutexLock lock(mu_);
  if (FindRun(run_id) == nullptr) return NoSuchRun(run_id);
  auto it = task_seq_by_id_.find({std::string(run_id), std::string(task_id)});
  if (it == task_seq_by_id_.end()) {
    return NotFound("task " + Quote(std::string(run_id) + "/" + std::string(task_id)) +
                    " not found");
  }
  return tasks_.at(std::string(run_id)).at(it->second);
}

Result<TaskPage> FakeRunStore::ListTasks(const TaskListQuery& query) {
  RETURN_IF_ERROR(CheckPageSize(query.page_size));
  MutexLock lock(mu_);
  if (FindRun(query.run_id) == nullptr) return NoSuchRun(query.run_id);
  TaskPage page;
  page.next_after_seq =
      PageAfter(tasks_[query.run_id], query.after_seq, query.page_size, page.tasks);
  return page;
}

Result<TransitionOutcome> FakeRunStore::TransitionTask(const TaskTransition& t) {
  MutexLock lock(mu_);
  if (FindRun(t.run_id) == nullptr) return NoSuchRun(t.run_id);
  std::string name = Quote(t.run_id + "/" + t.task_id);
  auto it = task_seq_by_id_.find({t.run_id, t.task_id});
  if (it == task_seq_by_id_.end()) return NotFound("task " + name + " not found");
  TaskRecord& task = tasks_.at(t.run_id).at(it->second);
  State from = task.state;
  if (t.to == from) {
    bool changed = FillIfUnset(task.start_time, t.start_time);
    changed |= FillIfUnset(task.end_time, t.end_time);
    if (task.executor_job_id.empty() && t.executor_job_id.has_value() &&
        !t.executor_job_id->empty()) {
      task.executor_job_id = *t.executor_job_id;
      changed = true;
    }
    if (!task.exit_code.has_value() && t.exit_code.has_value()) {
      task.exit_code = t.exit_code;
      changed = true;
    }
    if (changed) task.updated_at = std::max(task.updated_at, t.at);
    return TransitionOutcome{from, false};
  }
  if (!IsForwardTransition(from, t.to)) {
    return FailedPrecondition("task " + name + " cannot move from " + std::string(StateName(from)) +
                              " to " + std::string(StateName(t.to)));
  }
  FillIfUnset(task.start_time, t.start_time);
  FillIfUnset(task.end_time, t.end_time);
  if (t.executor_job_id.has_value()) task.executor_job_id = *t.executor_job_id;
  if (t.exit_code.has_value()) task.exit_code = t.exit_code;
  if (t.system_log.has_value()) task.system_logs.push_back(*t.system_log);
  task.state = t.to;
  task.updated_at = t.at;
  AppendHistory(t.run_id, t.task_id, "TaskStateChanged", from, t.to, t.at, t.reason);
  return TransitionOutcome{from, true};
}

Result<HistoryPage> FakeRunStore::ListHistory(const HistoryQuery& query) {
  RETURN_IF_ERROR(CheckPageSize(query.page_size));
  MutexLock lock(mu_);
  if (FindRun(query.run_id) == nullptr) return NoSuchRun(query.run_id);
  HistoryPage page;
  page.next_after_seq =
      PageAfter(history_[query.run_id], query.after_seq, query.page_size, page.events);
  return page;
}

Result<int64_t> FakeRunStore::AppendRunEvents(std::string_view run_id,
                                              const std::vector<RunEvent>& events) {
  MutexLock lock(mu_);
  if (FindRun(run_id) == nullptr) return NoSuchRun(run_id);
  auto& log = run_events_[std::string(run_id)];
  int64_t seq = log.empty() ? 0 : log.rbegin()->first;
  for (RunEvent e : events) {
    e.seq = ++seq;
    log.emplace(e.seq, std::move(e));
  }
  return seq;
}

Result<RunEventPage> FakeRunStore::ListRunEvents(const RunEventQuery& query) {
  RETURN_IF_ERROR(CheckPageSize(query.page_size));
  MutexLock lock(mu_);
  if (FindRun(query.run_id) == nullptr) return NoSuchRun(query.run_id);
  RunEventPage page;
  const auto& log = run_events_[query.run_id];
  for (auto it = log.upper_bound(query.after_seq.value_or(0)); it != log.end(); ++it) {
    if (query.filter == RunEventFilter::kReplayOnly && !it->second.replay) continue;
    if (query.filter == RunEventFilter::kHistoryOnly && it->second.replay) continue;
    if (static_cast<int>(page.events.size()) == query.page_size) {
      page.next_after_seq = page.events.back().seq;
      break;
    }
    page.events.push_back(it->second);
  }
  return page;
}

Result<std::vector<RunRecord>> FakeRunStore::ClaimRuns(const ClaimRequest& req) {
  if (req.owner.empty()) return InvalidArgument("claim owner must not be empty");
  MutexLock lock(mu_);
  std::vector<RunRecord> claimed;
  // A scan is fine in a fake; the real backends use an index of non-terminal runs.
  for (auto& [seq, run] : runs_) {
    if (static_cast<int>(claimed.size()) >= req.limit) break;
    if (IsTerminal(run.state)) continue;
    if (!run.owner.empty() && run.owner != req.owner && run.lease_until >= req.now) continue;
    if (!req.include_owned && run.owner == req.owner) continue;
    run.owner = req.owner;
    run.lease_until = req.lease_until;
    claimed.push_back(run);
  }
  return claimed;
}

Status FakeRunStore::RenewLeases(std::string_view owner, Micros lease_until) {
  if (owner.empty()) return InvalidArgument("lease owner must not be empty");
  MutexLock lock(mu_);
  for (auto& [seq, run] : runs_) {
    if (!IsTerminal(run.state) && run.owner == owner) run.lease_until = lease_until;
  }
  return Status::Ok();
}

}  // namespace sluice::store
