#include "store/sqlite/transition_rules.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "store/sqlite/row_codec.h"

namespace sluice::store::sqlite {
namespace {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// start_time and end_time are set once: the first value given sticks.
bool FillIfUnset(std::optional<Micros>& field, const std::optional<Micros>& value) {
  if (field.has_value() || !value.has_value()) return false;
  field = value;
  return true;
}

bool IsEmptyOutputs(std::string_view outputs) { return outputs.empty() || outputs == "{}"; }

// `logs` is a stored JSON list ("" when empty); returns it with `line` appended.
Result<std::string> AppendLog(const std::string& logs, const std::string& line,
                              std::string_view what) {
  ASSIGN_OR_RETURN(std::vector<std::string> list, DecodeStringList(logs, what));
  list.push_back(line);
  return EncodeStringList(list, what);
}

Status Backwards(const std::string& what, State from, State to) {
  return FailedPrecondition(what + " cannot move from " + std::string(StateName(from)) + " to " +
                            std::string(StateName(to)));
}

}  // namespace

Result<bool> ApplyRunTransition(const RunTransition& t, StoredRunState& row,
                                TransitionOutcome* out) {
  const State from = row.state;
  if (t.expected_from.has_value() && *t.expected_from != from) {
    return Conflict("run " + Quote(t.run_id) + " is " + std::string(StateName(from)) +
                    ", expected " + std::string(StateName(*t.expected_from)));
  }
  if (t.to == from) {
    // Idempotent repeat: only fill in what the row still lacks; no history event.
    bool changed = FillIfUnset(row.start_time, t.start_time);
    changed |= FillIfUnset(row.end_time, t.end_time);
    if (IsEmptyOutputs(row.outputs) && t.outputs.has_value() && !IsEmptyOutputs(*t.outputs)) {
      row.outputs = *t.outputs;
      changed = true;
    }
    *out = TransitionOutcome{from, false};
    if (changed) row.updated_at = std::max(row.updated_at, t.at);
    return changed;
  }
  if (!IsForwardTransition(from, t.to)) return Backwards("run " + Quote(t.run_id), from, t.to);
  std::string logs = row.system_logs;
  if (t.system_log.has_value()) {
    ASSIGN_OR_RETURN(logs, AppendLog(logs, *t.system_log, "runs.system_logs"));
  }
  FillIfUnset(row.start_time, t.start_time);
  FillIfUnset(row.end_time, t.end_time);
  if (t.outputs.has_value()) row.outputs = IsEmptyOutputs(*t.outputs) ? "" : *t.outputs;
  row.system_logs = std::move(logs);
  row.state = t.to;
  row.updated_at = t.at;
  *out = TransitionOutcome{from, true};
  return true;
}

Result<bool> ApplyTaskTransition(const TaskTransition& t, StoredTaskState& row,
                                 TransitionOutcome* out) {
  const State from = row.state;
  if (t.to == from) {
    // Idempotent repeat: a late event may still add what an earlier one lacked.
    bool changed = FillIfUnset(row.start_time, t.start_time);
    changed |= FillIfUnset(row.end_time, t.end_time);
    if (row.executor_job_id.empty() && t.executor_job_id.has_value() &&
        !t.executor_job_id->empty()) {
      row.executor_job_id = *t.executor_job_id;
      changed = true;
    }
    if (!row.exit_code.has_value() && t.exit_code.has_value()) {
      row.exit_code = *t.exit_code;
      changed = true;
    }
    *out = TransitionOutcome{from, false};
    if (changed) row.updated_at = std::max(row.updated_at, t.at);
    return changed;
  }
  // The name is built only for an error: this is state sync's hot path.
  if (!IsForwardTransition(from, t.to)) {
    return Backwards("task " + Quote(t.run_id + "/" + t.task_id), from, t.to);
  }
  std::string logs = row.system_logs;
  if (t.system_log.has_value()) {
    ASSIGN_OR_RETURN(logs, AppendLog(logs, *t.system_log, "tasks.system_logs"));
  }
  FillIfUnset(row.start_time, t.start_time);
  FillIfUnset(row.end_time, t.end_time);
  if (t.executor_job_id.has_value()) row.executor_job_id = *t.executor_job_id;
  if (t.exit_code.has_value()) row.exit_code = *t.exit_code;
  row.system_logs = std::move(logs);
  row.state = t.to;
  row.updated_at = t.at;
  *out = TransitionOutcome{from, true};
  return true;
}

TagPatch PlanTagPatch(StringMap tags, const StringMap& set,
                      const std::vector<std::string>& remove) {
  TagPatch p;
  auto note = [&p](const std::string& what) {
    if (!p.change.empty()) p.change += "; ";
    p.change += what;
  };
  for (const std::string& key : remove) {
    if (set.count(key) > 0) continue;  // set wins over remove
    auto it = tags.find(key);
    if (it == tags.end()) continue;
    p.drop.emplace_back(key, it->second);
    tags.erase(it);
    note("removed " + key);
  }
  for (const auto& [key, value] : set) {
    auto it = tags.find(key);
    if (it != tags.end()) {
      if (it->second == value) continue;
      p.drop.emplace_back(key, it->second);
    }
    p.insert.emplace_back(key, value);
    tags[key] = value;
    note("set " + key + "=" + value);
  }
  p.tags = std::move(tags);
  return p;
}

}  // namespace sluice::store::sqlite
