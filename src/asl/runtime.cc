// Runtime services for the state handlers: the context object (built lazily, updated in
// place per state), path/template evaluation with it, history records, scopes, the
// payload size limit, and the task and timer commands.
#include <algorithm>
#include <charconv>
#include <utility>

#include "asl/execution_state.h"

namespace sluice::asl::internal {
namespace {

bool PathReadsContext(const OptionalPath& p) {
  return p.kind == OptionalPath::Kind::kSet && p.path.IsContext();
}
bool PathReadsContext(const std::optional<Path>& p) { return p && p->IsContext(); }

bool RuleReadsContext(const ChoiceRule& r) {
  if (r.variable.IsContext() || (r.operand_is_path && r.operand_path.IsContext())) return true;
  for (const ChoiceRule& c : r.children) {
    if (RuleReadsContext(c)) return true;
  }
  return false;
}

// True if running `m` may need the context object: tasks receive it, templates and
// intrinsics may read it (they cannot be inspected), and `$$` paths read it.
bool MachineReadsContext(const StateMachine& m) {
  for (const auto& sp : m.states) {
    const State& s = *sp;
    if (s.type == StateType::kTask || s.parameters || s.result_selector || s.item_selector ||
        s.credentials || s.error_path.intrinsic || s.cause_path.intrinsic) {
      return true;
    }
    if (PathReadsContext(s.input_path) || PathReadsContext(s.output_path) ||
        PathReadsContext(s.items_path) || PathReadsContext(s.seconds_path) ||
        PathReadsContext(s.timestamp_path) || PathReadsContext(s.error_path.path) ||
        PathReadsContext(s.cause_path.path) || PathReadsContext(s.timeout_seconds.path) ||
        PathReadsContext(s.heartbeat_seconds.path) || PathReadsContext(s.max_concurrency.path) ||
        PathReadsContext(s.tolerated_failure_count.path) ||
        PathReadsContext(s.tolerated_failure_percentage.path)) {
      return true;
    }
    for (const ChoiceRule& r : s.choices) {
      if (RuleReadsContext(r)) return true;
    }
    for (const auto& b : s.branches) {
      if (MachineReadsContext(*b)) return true;
    }
    if (s.processor && MachineReadsContext(*s.processor)) return true;
  }
  return false;
}

// Objects merge member by member; anything else replaces.
void MergeOver(Value& base, const Value& over) {
  if (!base.is_object() || !over.is_object()) {
    base = over;
    return;
  }
  for (auto it = over.begin(); it != over.end(); ++it) MergeOver(base[it.key()], it.value());
}

const Value& EmptyContext() {
  static const Value kEmpty = Value::object();
  return kEmpty;
}

size_t DoubleSize(double d) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? static_cast<size_t>(p - buf) : 24;
}

size_t StringSize(const std::string& s) {
  size_t n = 2;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') {
      n += 2;
    } else if (c < 0x20) {
      n += 6;
    } else {
      ++n;
    }
  }
  return n;
}

void AddSize(const Value& v, size_t limit, size_t& n) {
  if (n > limit) return;
  switch (v.type()) {
    case Value::value_t::object: {
      n += 2;
      bool first = true;
      for (auto it = v.begin(); it != v.end() && n <= limit; ++it) {
        n += (first ? 0 : 1) + StringSize(it.key()) + 1;
        first = false;
        AddSize(it.value(), limit, n);
      }
      break;
    }
    case Value::value_t::array: {
      n += 2;
      bool first = true;
      for (const Value& e : v) {
        if (n > limit) break;
        n += first ? 0 : 1;
        first = false;
        AddSize(e, limit, n);
      }
      break;
    }
    case Value::value_t::string:
      n += StringSize(v.get_ref<const std::string&>());
      break;
    case Value::value_t::boolean:
      n += v.get<bool>() ? 4 : 5;
      break;
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned:
      n += v.is_number_unsigned() ? std::to_string(v.get<uint64_t>()).size()
                                  : std::to_string(v.get<int64_t>()).size();
      break;
    case Value::value_t::number_float:
      n += DoubleSize(v.get<double>());
      break;
    default:
      n += 4;  // null
      break;
  }
}

}  // namespace

size_t JsonSize(const Value& v, size_t limit) {
  size_t n = 0;
  AddSize(v, limit, n);
  return n;
}

Runtime::Runtime(std::shared_ptr<const Definition> definition, ExecutionOptions options)
    : definition_(std::move(definition)),
      options_(std::move(options)),
      random_(options_.seed),
      context_needed_(MachineReadsContext(definition_->machine) ||
                      !options_.context_overrides.empty()) {}

Runtime::~Runtime() = default;

// Object members live in a vector whose pairs (const key) are copied, not moved, when it
// grows: reserve first so that Execution.Input is never deep-copied.
void Runtime::BuildContext() {
  context_ = Value::object();
  const Value& over = options_.context_overrides;
  size_t extra = over.is_object() ? over.size() : 0;
  size_t extra_exec = extra > 0 && over.contains("Execution") ? over["Execution"].size() : 0;
  context_.get_ref<Value::object_t&>().reserve(4 + extra);  // Execution, State, StateMachine, Map
  Value& exec = context_["Execution"];
  exec = Value::object();
  exec.get_ref<Value::object_t&>().reserve(5 + extra_exec);
  exec["Id"] = options_.execution_id;
  exec["Input"] = std::move(execution_input_);
  exec["Name"] = options_.execution_name;
  exec["StartTime"] = FormatTimestampMillis(start_time_);
  exec["RedriveCount"] = 0;
  Value& st = context_["State"];
  st["EnteredTime"] = "";
  st["Name"] = "";
  st["RetryCount"] = 0;
  Value& sm = context_["StateMachine"];
  sm["Id"] = options_.state_machine_id;
  sm["Name"] = options_.state_machine_name;
  if (options_.context_overrides.is_object()) MergeOver(context_, options_.context_overrides);
  execution_input_ = Value();
  context_built_ = true;
  ctx_state_ = nullptr;
  ctx_entered_ = -1;
  ctx_retry_ = -1;
}

const Value& Runtime::Context(const Thread& t) {
  if (!context_built_) BuildContext();
  if (ctx_state_ != t.state || ctx_entered_ != t.entered_at || ctx_retry_ != t.retry_count) {
    Value& st = context_["State"];
    if (ctx_state_ != t.state) st["Name"] = t.state != nullptr ? t.state->name : std::string();
    if (ctx_entered_ != t.entered_at) st["EnteredTime"] = FormatTimestampMillis(t.entered_at);
    if (ctx_retry_ != t.retry_count) st["RetryCount"] = t.retry_count;
    ctx_state_ = t.state;
    ctx_entered_ = t.entered_at;
    ctx_retry_ = t.retry_count;
  }
  return context_;
}

void Runtime::SetMapItem(int64_t index, Value item) {
  if (!context_built_) BuildContext();
  Value& map = context_["Map"];
  if (!map.is_object()) map = Value::object();
  Value& it = map["Item"];
  if (!it.is_object()) it = Value::object();
  it["Index"] = index;
  it["Value"] = std::move(item);
}

void Runtime::ClearMapItem() {
  if (context_built_) context_.erase("Map");
}

EvalResult<Value> Runtime::Eval(const Path& path, const Value& input, const Thread& t) {
  return path.Evaluate(input, path.IsContext() ? Context(t) : EmptyContext());
}

EvalResult<const Value*> Runtime::Lookup(const Path& path, const Value& input, const Thread& t,
                                         Value* owned) {
  if (!path.IsContext()) {
    if (const Value* v = FindSimple(path, input)) return v;
  }
  auto v = Eval(path, input, t);
  if (!v.ok()) return v.error();
  *owned = std::move(v).value();
  return static_cast<const Value*>(owned);
}

bool Runtime::Exists(const Path& path, const Value& input, const Thread& t) {
  return path.Exists(input, path.IsContext() ? Context(t) : EmptyContext());
}

EvalResult<Value> Runtime::Apply(const PayloadTemplate& tmpl, const Value& input, const Thread& t) {
  return tmpl.Apply(input, Context(t), random_);
}

EvalResult<Value> Runtime::Call(const Intrinsic& fn, const Value& input, const Thread& t) {
  return fn.Evaluate(input, Context(t), random_);
}

void Runtime::Record(std::string_view type, const Thread* t, Value details) {
  if (!recording()) return;
  HistoryEvent e;
  e.type = std::string(type);
  e.at = now_;
  if (t != nullptr) {
    if (t->state != nullptr) e.state_name = t->state->name;
    e.scope = ScopeOf(*t);
  }
  e.details = std::move(details);
  out_->history.push_back(std::move(e));
}

std::string Runtime::ScopeOf(const Thread& t) const {
  if (t.parent == nullptr) return "";
  std::string scope = ScopeOf(*t.parent);
  if (!scope.empty()) scope += '/';
  scope += t.parent->state->name;
  if (t.parent->state->type == StateType::kParallel) scope += ".branch";
  scope += '[';
  scope += std::to_string(t.index);
  scope += ']';
  return scope;
}

std::optional<ErrorInfo> Runtime::CheckSize(const Value& v, const Thread& t,
                                            std::string_view what) {
  size_t limit = options_.max_payload_bytes;
  if (limit == 0) return std::nullopt;
  // Numbers, booleans and null cannot reach the limit.
  if (!v.is_structured() && !v.is_string()) return std::nullopt;
  if (JsonSize(v, limit) <= limit) return std::nullopt;
  std::string cause = "The ";
  cause += what;
  if (t.state != nullptr) cause += " of state '" + t.state->name + "'";
  cause += " has a size exceeding the maximum number of bytes service limit (" +
           std::to_string(limit) + ")";
  return ErrorInfo{std::string(errors::kDataLimitExceeded), std::move(cause)};
}

// --- Commands ---

std::string Runtime::StartTimerFor(Thread& t, TimerKind kind, Micros deadline) {
  static constexpr std::string_view kPrefix[] = {"wait-", "retry-", "timeout-", "heartbeat-",
                                                 "execution-"};
  uint64_t seq = ++timer_seq_;
  std::string id(kPrefix[static_cast<int>(kind)]);
  id += std::to_string(seq);
  timers_[id] = TimerEntry{&t, kind, deadline, seq};
  out_->start_timers.push_back({id, deadline});
  return id;
}

void Runtime::StartTaskFor(Thread& t, Value input, std::optional<int64_t> timeout_seconds,
                           std::optional<int64_t> heartbeat_seconds) {
  uint64_t seq = ++task_seq_;
  TaskEntry entry;
  entry.owner = &t;
  StartTask& st = entry.start;
  st.task_id = std::to_string(seq);
  st.state_name = t.state->name;
  st.resource = t.state->resource;
  st.input = std::move(input);
  st.attempt = t.retry_count;
  st.scope = ScopeOf(t);
  st.timeout_seconds = timeout_seconds;
  st.heartbeat_seconds = heartbeat_seconds;
  st.context = Context(t);
  t.task_id = st.task_id;
  if (recording()) {
    Record("TaskScheduled", &t,
           Value{{"task_id", st.task_id},
                 {"resource", st.resource},
                 {"parameters", st.input},
                 {"attempt", st.attempt}});
  }
  out_->start_tasks.push_back(st);
  tasks_.emplace(seq, std::move(entry));
  if (timeout_seconds) {
    t.timeout_timer_id = StartTimerFor(
        t, TimerKind::kTaskTimeout, now_ + SecondsToMicros(static_cast<double>(*timeout_seconds)));
  }
  if (heartbeat_seconds) {
    t.heartbeat_seconds = *heartbeat_seconds;
    t.heartbeat_timer_id = StartTimerFor(
        t, TimerKind::kHeartbeat, now_ + SecondsToMicros(static_cast<double>(*heartbeat_seconds)));
  }
}

std::vector<StartTask> Runtime::RunningTasks() const {
  std::vector<StartTask> out;
  out.reserve(tasks_.size());
  for (const auto& [seq, entry] : tasks_) out.push_back(entry.start);
  return out;
}

std::vector<StartTimer> Runtime::PendingTimers() const {
  std::vector<std::pair<uint64_t, StartTimer>> sorted;
  for (const auto& [id, entry] : timers_) sorted.push_back({entry.seq, {id, entry.deadline}});
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<StartTimer> out;
  out.reserve(sorted.size());
  for (auto& [seq, timer] : sorted) out.push_back(std::move(timer));
  return out;
}

}  // namespace sluice::asl::internal
