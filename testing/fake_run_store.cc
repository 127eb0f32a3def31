#include "testing/fake_run_store.h"

#include <algorithm>
#include <limits>
#include <set>

#include "common/clock.h"

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

bool MatchesFilter(const RunRecord& run, const RunFilter& f) {
  if (!f.states.empty() && std::find(f.states.begin(), f.states.end(), run.state) == f.states.end()) {
    return false;
  }
  if (!f.user.empty() && run.user != f.user) return false;
  if (!f.workflow_type.empty() && run.request.workflow_type != f.workflow_type) return false;
  for (const auto& [key, value] : f.tags) {
    auto it = run.request.tags.find(key);
    if (it == run.request.tags.end() || it->second != value) return false;
  }
  if (f.submitted_after && run.submitted_at < *f.submitted_after) return false;
  if (f.submitted_before && run.submitted_at >= *f.submitted_before) return false;
  if (!f.name_prefix.empty() && run.name.compare(0, f.name_prefix.size(), f.name_prefix) != 0) {
    return false;
  }
  return true;
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
  ChangeEvent change;
  change.run_id = e.run_id;
  change.task_id = e.task_id;
  change.type = e.type;
  change.from = e.from;
  change.to = e.to;
  change.at = e.at;
  change.reason = e.reason;
  AppendOutbox(std::move(change));
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
  r.user = run.user.empty() ? "anonymous" : run.user;
  if (auto name = run.request.tags.find("name"); name != run.request.tags.end()) {
    r.name = name->second;
  }
  run_seq_by_id_[r.id] = r.seq;
  if (!run.idempotency_key.empty()) run_seq_by_key_[run.idempotency_key] = r.seq;
  counts_[State::kQueued]++;
  runs_.emplace(r.seq, r);
  AppendHistory(run.id, "", "RunStateChanged", State::kUnknown, State::kQueued, run.submitted_at,
                "submitted");
  return CreateRunResult{run.id, true};
}

void FakeRunStore::FailNextGetRuns(int n, Status st) {
  MutexLock lock(mu_);
  fail_get_runs_ = n;
  fail_get_run_status_ = std::move(st);
}

void FakeRunStore::FailCreateTaskOnce(std::string task_id, Status st) {
  MutexLock lock(mu_);
  fail_create_task_id_ = std::move(task_id);
  fail_create_task_status_ = std::move(st);
}

Result<RunRecord> FakeRunStore::GetRun(std::string_view run_id) {
  MutexLock lock(mu_);
  if (fail_get_runs_ > 0) {
    --fail_get_runs_;
    return fail_get_run_status_;
  }
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
  const bool updated =
      query.sort == RunSort::kUpdatedDesc || query.sort == RunSort::kUpdatedAsc;
  const bool desc = query.sort == RunSort::kSubmittedDesc || query.sort == RunSort::kUpdatedDesc;
  auto key = [updated](const RunRecord& r) {
    return std::pair<Micros, int64_t>(updated ? r.updated_at : 0, r.seq);
  };
  // A scan is fine in a fake; the real backends walk an index (run_query.h).
  std::vector<const RunRecord*> matches;
  for (const auto& [seq, run] : runs_) {
    if (!MatchesFilter(run, query.filter)) continue;
    if (query.after) {
      auto cursor = std::pair<Micros, int64_t>(query.after->key, query.after->seq);
      if (desc ? !(key(run) < cursor) : !(cursor < key(run))) continue;
    }
    matches.push_back(&run);
  }
  std::sort(matches.begin(), matches.end(), [&](const RunRecord* a, const RunRecord* b) {
    return desc ? key(*b) < key(*a) : key(*a) < key(*b);
  });
  RunPage page;
  for (const RunRecord* run : matches) {
    if (static_cast<int>(page.runs.size()) == query.page_size) {
      page.next = RunCursor{updated ? page.runs.back().updated_at : 0, page.runs.back().seq};
      break;
    }
    page.runs.push_back(*run);
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
  if (IsTerminal(t.to)) AddRunToStats(*run, t.to, t.usage.has_value() ? &*t.usage : nullptr);
  return TransitionOutcome{from, true};
}

Result<std::vector<bool>> FakeRunStore::CreateTasks(const std::vector<TaskRecord>& tasks) {
  MutexLock lock(mu_);
  // Checked first, all of them, so that a refusal creates none.
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<bool> created;
  for (const TaskRecord& task : tasks) {
    if (task.id.empty()) return InvalidArgument("task id must not be empty");
    if (!fail_create_task_id_.empty() && task.id == fail_create_task_id_) {
      fail_create_task_id_.clear();
      return fail_create_task_status_;
    }
    RunRecord* run = FindRun(task.run_id);
    if (run == nullptr) return NoSuchRun(task.run_id);
    if (task_seq_by_id_.count({task.run_id, task.id}) > 0 ||
        !seen.emplace(task.run_id, task.id).second) {
      created.push_back(false);
      continue;
    }
    if (IsTerminal(run->state)) {
      return FailedPrecondition("run " + Quote(task.run_id) + " is " +
                                std::string(StateName(run->state)) + "; no new tasks");
    }
    created.push_back(true);
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (!created[i]) continue;
    TaskRecord t = tasks[i];
    t.seq = next_task_seq_++;
    t.updated_at = std::max(t.updated_at, t.created_at);
    task_seq_by_id_[{t.run_id, t.id}] = t.seq;
    tasks_[t.run_id].emplace(t.seq, t);
    AppendHistory(t.run_id, t.id, "TaskCreated", State::kUnknown, t.state, t.created_at, "created");
  }
  return created;
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
  return TransitionTaskLocked(t);
}

Result<TransitionOutcome> FakeRunStore::TransitionTaskLocked(const TaskTransition& t) {
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

// The fake counts by scanning and so is always right; it reports exact=false where the
// contract says a backend may estimate, so callers see the same flag from every store.
Result<RunCount> FakeRunStore::CountRuns(const RunFilter& filter) {
  MutexLock lock(mu_);
  RunCount out;
  for (const auto& [seq, run] : runs_) {
    if (MatchesFilter(run, filter)) out.count++;
  }
  size_t dims = (filter.user.empty() ? 0 : 1) + (filter.workflow_type.empty() ? 0 : 1) +
                filter.tags.size();
  out.exact = dims <= 1 && !filter.submitted_after && !filter.submitted_before &&
              filter.name_prefix.empty();
  return out;
}

Result<RunRecord> FakeRunStore::UpdateTags(std::string_view run_id, const StringMap& set,
                                           const std::vector<std::string>& remove, Micros at) {
  MutexLock lock(mu_);
  RunRecord* run = FindRun(run_id);
  if (run == nullptr) return NoSuchRun(run_id);
  StringMap& tags = run->request.tags;
  std::string change;
  for (const std::string& key : remove) {
    if (set.count(key) > 0) continue;  // set wins over remove
    if (tags.erase(key) == 0) continue;
    change += std::string(change.empty() ? "" : "; ") + "removed " + key;
  }
  for (const auto& [key, value] : set) {
    auto it = tags.find(key);
    if (it != tags.end() && it->second == value) continue;
    tags[key] = value;
    change += std::string(change.empty() ? "" : "; ") + "set " + key + "=" + value;
  }
  if (!change.empty()) {
    auto name = tags.find("name");
    run->name = name == tags.end() ? "" : name->second;
    run->updated_at = std::max(run->updated_at, at);
    AppendHistory(run->id, "", "TagsChanged", run->state, run->state, at, change);
  }
  return *run;
}

// --- outbox, state sync's batch, stats and maintenance (issue 4) ---

FakeRunStore::~FakeRunStore() {
  {
    MutexLock lock(notify_mu_);
    notify_stop_ = true;
  }
  notify_cv_.notify_all();
  if (notifier_.joinable()) notifier_.join();
}

void FakeRunStore::AppendOutbox(ChangeEvent e) {
  e.seq = next_outbox_seq_++;
  outbox_.emplace(e.seq, std::move(e));
  {
    MutexLock lock(notify_mu_);
    if (!listener_) return;
    notify_pending_ = true;
  }
  notify_cv_.notify_all();
}

void FakeRunStore::NotifyLoop() {
  for (;;) {
    std::function<void()> listener;
    {
      MutexLock lock(notify_mu_);
      lock.Wait(notify_cv_, [this]() NO_THREAD_SAFETY_ANALYSIS {
        return notify_stop_ || notify_pending_;
      });
      if (notify_stop_) return;
      notify_pending_ = false;
      listener = listener_;
    }
    if (listener) listener();
  }
}

void FakeRunStore::SetOutboxListener(std::function<void()> listener) {
  bool start = false;
  {
    MutexLock lock(notify_mu_);
    listener_ = std::move(listener);
    start = listener_ && !notifier_.joinable();
    // Started under the lock, so two concurrent calls cannot both start one.
    if (start) notifier_ = std::thread([this] { NotifyLoop(); });
  }
}

std::vector<Result<TransitionOutcome>> FakeRunStore::TransitionTasks(
    const std::vector<TaskTransition>& ts) {
  std::vector<Result<TransitionOutcome>> out;
  out.reserve(ts.size());
  MutexLock lock(mu_);
  for (const TaskTransition& t : ts) out.push_back(TransitionTaskLocked(t));
  return out;
}

void FakeRunStore::AddRunToStats(const RunRecord& run, State to, const RunUsage* usage) {
  // Dimensions as in the SQLite store (stats_ops.cc): 0 all, 1 user, 2 workflow type, 3 tag.
  Micros end = run.end_time.value_or(run.updated_at);
  StatsRollup add;
  add.AddRun(to, RunSeconds(run.start_time, end), usage);
  int64_t day = UtcDay(end);
  stats_[{0, "", day}].Merge(add);
  stats_[{1, run.user.empty() ? "anonymous" : run.user, day}].Merge(add);
  stats_[{2, run.request.workflow_type, day}].Merge(add);
  for (const auto& [key, value] : run.request.tags) {
    if (!IsRolledUpTag(key)) continue;
    stats_[{3, TagRollupKey(key, value), day}].Merge(add);
  }
}

Result<std::vector<StatsGroup>> FakeRunStore::QueryStats(const StatsQuery& query) {
  if (query.group_by == StatsGroupBy::kTag && query.tag_key.empty()) {
    return InvalidArgument("group by tag needs a tag key");
  }
  auto [first_day, end_day] = UtcDayRange(query.from, query.to);
  int dim = query.group_by == StatsGroupBy::kDay            ? 0
            : query.group_by == StatsGroupBy::kUser         ? 1
            : query.group_by == StatsGroupBy::kWorkflowType ? 2
                                                            : 3;
  std::string prefix = dim == 3 ? TagRollupPrefix(query.tag_key) : "";
  MutexLock lock(mu_);
  std::map<std::string, StatsRollup> merged;
  for (const auto& [k, rollup] : stats_) {
    const auto& [row_dim, key, day] = k;
    if (row_dim != dim || day < first_day || day >= end_day) continue;
    if (dim == 3 && key.compare(0, prefix.size(), prefix) != 0) continue;
    std::string group = dim == 0 ? FormatUtcDay(day) : dim == 3 ? key.substr(prefix.size()) : key;
    merged[group].Merge(rollup);
  }
  std::vector<StatsGroup> groups;
  for (const auto& [key, rollup] : merged) groups.push_back(rollup.ToGroup(key));
  return groups;
}

Result<std::vector<ChangeEvent>> FakeRunStore::ReadOutbox(int64_t after_seq, int limit) {
  MutexLock lock(mu_);
  std::vector<ChangeEvent> events;
  for (auto it = outbox_.upper_bound(after_seq);
       it != outbox_.end() && static_cast<int>(events.size()) < limit; ++it) {
    ChangeEvent e = it->second;
    if (const RunRecord* run = FindRun(e.run_id); run != nullptr) {
      e.run_state = run->state;
      e.user = run->user;
      e.workflow_type = run->request.workflow_type;
      e.tags = run->request.tags;
    }
    events.push_back(std::move(e));
  }
  return events;
}

Result<OutboxBounds> FakeRunStore::GetOutboxBounds() {
  MutexLock lock(mu_);
  OutboxBounds bounds;
  if (!outbox_.empty()) bounds.oldest_seq = outbox_.begin()->first;
  bounds.last_seq = next_outbox_seq_ - 1;
  return bounds;
}

Result<int64_t> FakeRunStore::PruneOutbox(Micros before, int limit) {
  MutexLock lock(mu_);
  int64_t deleted = 0;
  // Only a prefix goes, so the kept entries stay contiguous.
  while (deleted < limit && !outbox_.empty() && outbox_.begin()->second.at < before) {
    outbox_.erase(outbox_.begin());
    deleted++;
  }
  return deleted;
}

Status FakeRunStore::DeleteRun(std::string_view run_id) {
  MutexLock lock(mu_);
  RunRecord* run = FindRun(run_id);
  if (run == nullptr) return NoSuchRun(run_id);
  if (!IsTerminal(run->state)) {
    return FailedPrecondition("run " + Quote(run_id) + " is " + std::string(StateName(run->state)) +
                              "; only ended runs can be deleted");
  }
  std::string id = run->id;
  State state = run->state;
  counts_[state]--;
  if (!run->idempotency_key.empty()) run_seq_by_key_.erase(run->idempotency_key);
  for (const auto& [seq, task] : tasks_[id]) task_seq_by_id_.erase({id, task.id});
  tasks_.erase(id);
  history_.erase(id);
  run_events_.erase(id);
  runs_.erase(run->seq);
  run_seq_by_id_.erase(id);
  ChangeEvent e;
  e.run_id = id;
  e.type = "RunDeleted";
  e.from = state;
  e.to = State::kUnknown;
  e.at = SystemClock().Now();
  e.reason = "deleted";
  AppendOutbox(std::move(e));
  return Status::Ok();
}

Result<std::vector<EndedRun>> FakeRunStore::ListEndedRuns(const EndedRunQuery& query) {
  MutexLock lock(mu_);
  // A scan is fine in a fake; SQLite walks the runs_ended index.
  std::vector<std::pair<RunCursor, const RunRecord*>> ended;
  for (const auto& [seq, run] : runs_) {
    if (!IsTerminal(run.state)) continue;
    RunCursor at{run.end_time.value_or(run.updated_at), seq};
    if (at.key >= query.ended_before) continue;
    if (query.after && std::pair(at.key, at.seq) <= std::pair(query.after->key, query.after->seq)) {
      continue;
    }
    ended.emplace_back(at, &run);
  }
  std::sort(ended.begin(), ended.end(), [](const auto& a, const auto& b) {
    return std::pair(a.first.key, a.first.seq) < std::pair(b.first.key, b.first.seq);
  });
  std::vector<EndedRun> out;
  for (const auto& [at, run] : ended) {
    if (static_cast<int>(out.size()) >= query.limit) break;
    EndedRun r;
    r.id = run->id;
    r.seq = run->seq;
    r.end_time = at.key;
    r.workflow_type = run->request.workflow_type;
    r.tags = run->request.tags;
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<TaskRecord>> FakeRunStore::ListStaleTasks(Micros updated_before, int limit) {
  MutexLock lock(mu_);
  std::vector<TaskRecord> stale;
  for (const auto& [run_id, tasks] : tasks_) {
    // As the SQLite store: only tasks of runs still in flight.
    const RunRecord* run = FindRun(run_id);
    if (run == nullptr || IsTerminal(run->state)) continue;
    for (const auto& [seq, task] : tasks) {
      if (IsTerminal(task.state) || task.executor_job_id.empty()) continue;
      if (task.updated_at >= updated_before) continue;
      stale.push_back(task);
    }
  }
  std::sort(stale.begin(), stale.end(), [](const TaskRecord& a, const TaskRecord& b) {
    return std::pair(a.updated_at, a.seq) < std::pair(b.updated_at, b.seq);
  });
  if (limit < 0) limit = 0;
  if (stale.size() > static_cast<size_t>(limit)) stale.resize(static_cast<size_t>(limit));
  return stale;
}

}  // namespace sluice::store
