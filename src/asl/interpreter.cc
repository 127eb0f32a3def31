// Execution: event dispatch, the run loop over threads, Retry/Catch, thread lifecycle and
// cancellation. The state types live in states/*.cc; the context object, evaluation and
// the task/timer commands in runtime.cc.
#include "asl/interpreter.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "asl/execution_state.h"

namespace sluice::asl {
namespace internal {
namespace {

// Task ids are "1", "2", ...; anything else is not ours.
std::optional<uint64_t> ParseTaskId(const std::string& id) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
  if (ec != std::errc() || p != id.data() + id.size()) return std::nullopt;
  return n;
}

std::string TypedEventName(const State& s, std::string_view suffix) {
  std::string name(StateTypeName(s.type));
  name += suffix;
  return name;
}

}  // namespace

Transition Runtime::Step(Event&& event) {
  Transition tr;
  if (finished_) return tr;
  if (!started_ && event.type != Event::Type::kStart) return tr;
  out_ = &tr;
  now_ = event.at;
  switch (event.type) {
    case Event::Type::kStart:
      if (!started_) Start(event);
      break;
    case Event::Type::kTaskSucceeded:
      OnTaskSucceeded(event);
      break;
    case Event::Type::kTaskFailed:
      OnTaskFailed(event);
      break;
    case Event::Type::kTaskHeartbeat:
      OnHeartbeat(event);
      break;
    case Event::Type::kTimerFired:
      OnTimer(event);
      break;
    case Event::Type::kStop: {
      ErrorInfo e{event.error, event.cause};
      EndExecution(ExecutionResult::Status::kAborted, Value(), std::move(e));
      break;
    }
  }
  Drain();
  out_ = nullptr;
  if (finished_) {
    // Nothing can happen any more: let go of the execution's data.
    root_.reset();
    tasks_.clear();
    timers_.clear();
    context_ = Value();
    execution_input_ = Value();
  }
  return tr;
}

void Runtime::Start(Event& event) {
  started_ = true;
  start_time_ = event.at;
  Value input = event.input.is_null() ? Value::object() : std::move(event.input);
  if (recording()) Record("ExecutionStarted", nullptr, Value{{"input", input}});
  if (definition_->machine.start() == nullptr) {
    EndExecution(ExecutionResult::Status::kFailed, Value(),
                 {std::string(errors::kRuntime), "the machine has no StartAt state"});
    return;
  }
  root_ = std::make_unique<Thread>();
  root_->machine = &definition_->machine;
  if (auto err = CheckSize(input, *root_, "execution input")) {
    EndExecution(ExecutionResult::Status::kFailed, Value(), std::move(*err));
    return;
  }
  if (definition_->timeout_seconds) {
    execution_timer_id_ = "execution-timeout";
    Micros deadline = now_ + SecondsToMicros(static_cast<double>(*definition_->timeout_seconds));
    timers_[execution_timer_id_] =
        TimerEntry{nullptr, TimerKind::kExecutionTimeout, deadline, ++timer_seq_};
    out_->start_timers.push_back({execution_timer_id_, deadline});
  }
  if (context_needed_) execution_input_ = input;
  EnterState(*root_, definition_->machine.start(), std::move(input));
  ready_.push_back(root_.get());
}

Thread* Runtime::TaskOwner(const std::string& task_id) const {
  auto id = ParseTaskId(task_id);
  if (!id) return nullptr;
  auto it = tasks_.find(*id);
  if (it == tasks_.end() || it->second.start.task_id != task_id) return nullptr;  // "01"
  return it->second.owner;
}

void Runtime::OnTaskSucceeded(Event& event) {
  Thread* t = TaskOwner(event.task_id);
  if (t == nullptr) return;
  FinishTask(*t);
  if (recording()) {
    Record("TaskSucceeded", t, Value{{"task_id", event.task_id}, {"output", event.output}});
  }
  if (auto err = CheckSize(event.output, *t, "task result")) {
    Continue(t, Outcome::Fail(std::move(*err)));
    return;
  }
  Continue(t, FinishWithResult(*this, *t, std::move(event.output), /*with_selector=*/true));
}

void Runtime::OnTaskFailed(const Event& event) {
  Thread* t = TaskOwner(event.task_id);
  if (t == nullptr) return;
  FinishTask(*t);
  ErrorInfo e{event.error.empty() ? std::string(errors::kTaskFailed) : event.error, event.cause};
  if (recording()) {
    Record("TaskFailed", t,
           Value{{"task_id", event.task_id}, {"error", e.error}, {"cause", e.cause}});
  }
  Continue(t, Outcome::Fail(std::move(e)));
}

void Runtime::OnHeartbeat(const Event& event) {
  Thread* t = TaskOwner(event.task_id);
  if (t == nullptr) return;
  if (t->heartbeat_timer_id.empty()) return;
  CancelTimerId(t->heartbeat_timer_id);
  t->heartbeat_timer_id = StartTimerFor(
      *t, TimerKind::kHeartbeat, now_ + SecondsToMicros(static_cast<double>(t->heartbeat_seconds)));
}

void Runtime::OnTimer(const Event& event) {
  auto it = timers_.find(event.timer_id);
  if (it == timers_.end()) return;
  TimerEntry entry = it->second;
  timers_.erase(it);
  Thread* t = entry.owner;
  switch (entry.kind) {
    case TimerKind::kExecutionTimeout:
      execution_timer_id_.clear();
      EndExecution(ExecutionResult::Status::kTimedOut, Value(),
                   {std::string(errors::kTimeout), "The execution timed out"});
      return;
    case TimerKind::kWait:
      t->timer_id.clear();
      Continue(t, Outcome::Next(std::move(t->input)));
      return;
    case TimerKind::kRetry:
      t->timer_id.clear();
      Continue(t, Execute(*t));
      return;
    case TimerKind::kTaskTimeout:
    case TimerKind::kHeartbeat: {
      bool heartbeat = entry.kind == TimerKind::kHeartbeat;
      (heartbeat ? t->heartbeat_timer_id : t->timeout_timer_id).clear();
      std::string task_id = t->task_id;
      out_->cancel_tasks.push_back({task_id});
      FinishTask(*t);
      ErrorInfo e{std::string(heartbeat ? errors::kHeartbeatTimeout : errors::kTimeout),
                  heartbeat ? "The task sent no heartbeat in time" : "The task timed out"};
      if (recording()) {
        Record("TaskTimedOut", t,
               Value{{"task_id", task_id}, {"error", e.error}, {"cause", e.cause}});
      }
      Continue(t, Outcome::Fail(std::move(e)));
      return;
    }
  }
}

void Runtime::FinishTask(Thread& t) {
  if (!t.task_id.empty()) {
    if (auto id = ParseTaskId(t.task_id)) tasks_.erase(*id);
    t.task_id.clear();
  }
  CancelTimerId(t.timeout_timer_id);
  CancelTimerId(t.heartbeat_timer_id);
}

void Runtime::CancelTimerId(std::string& id) {
  if (id.empty()) return;
  if (timers_.erase(id) > 0 && out_ != nullptr) out_->cancel_timers.push_back({id});
  id.clear();
}

void Runtime::EndExecution(ExecutionResult::Status status, Value output, ErrorInfo error) {
  if (finished_) return;
  if (root_) CancelThread(*root_);
  CancelTimerId(execution_timer_id_);
  finished_ = true;
  ready_.clear();
  ExecutionResult result;
  result.status = status;
  if (recording()) {
    static constexpr std::string_view kNames[] = {"ExecutionSucceeded", "ExecutionFailed",
                                                  "ExecutionTimedOut", "ExecutionAborted"};
    Value details = status == ExecutionResult::Status::kSucceeded
                        ? Value{{"output", output}}
                        : Value{{"error", error.error}, {"cause", error.cause}};
    Record(kNames[static_cast<int>(status)], nullptr, std::move(details));
  }
  result.output = std::move(output);
  result.error = std::move(error.error);
  result.cause = std::move(error.cause);
  out_->result = std::move(result);
}

// Runs queued threads until every thread is blocked (or the execution is over).
void Runtime::Drain() {
  while (!ready_.empty() && !finished_) {
    Thread* t = ready_.front();
    ready_.pop_front();
    if (t->dead) continue;
    if (t->resume) {
      Outcome o = std::move(*t->resume);
      t->resume.reset();
      Continue(t, std::move(o));
    } else {
      Continue(t, Execute(*t));
    }
    retired_.clear();
  }
  ready_.clear();
  retired_.clear();
  graveyard_.clear();
}

Outcome Runtime::Execute(Thread& t) {
  switch (t.state->type) {
    case StateType::kPass:
      return RunPass(*this, t);
    case StateType::kTask:
      return RunTask(*this, t);
    case StateType::kChoice:
      return RunChoice(*this, t);
    case StateType::kWait:
      return RunWait(*this, t);
    case StateType::kSucceed:
      return RunSucceed(*this, t);
    case StateType::kFail:
      return RunFail(*this, t);
    case StateType::kParallel:
      return RunParallel(*this, t);
    case StateType::kMap:
      return RunMap(*this, t);
  }
  return Outcome::Fail(errors::kRuntime, "unknown state type");
}

// Processes `o` for `t`, then keeps running its states until it blocks or ends. `t` may be
// freed when this returns.
void Runtime::Continue(Thread* t, Outcome o) {
  while (!finished_ && !t->dead) {
    switch (o.kind) {
      case Outcome::Kind::kBlocked:
        return;
      case Outcome::Kind::kRerun:
        break;
      case Outcome::Kind::kFail:
        o = HandleError(*t, std::move(o.error));
        continue;
      case Outcome::Kind::kFailThread:
        EndThread(t, false, Value(), std::move(o.error));
        return;
      case Outcome::Kind::kNext:
      case Outcome::Kind::kGoto:
      case Outcome::Kind::kEnd: {
        if (auto err = CheckSize(o.output, *t, "state output")) {
          o = Outcome::Fail(std::move(*err));
          continue;
        }
        const State& s = *t->state;
        if (recording()) Record(TypedEventName(s, "StateExited"), t, Value{{"output", o.output}});
        if (o.kind == Outcome::Kind::kEnd || (o.kind == Outcome::Kind::kNext && s.end)) {
          EndThread(t, true, std::move(o.output), {});
          return;
        }
        const std::string& next = o.kind == Outcome::Kind::kGoto ? *o.next : s.next;
        const State* target = t->machine->Find(next);
        if (target == nullptr) {
          o = Outcome::Fail(errors::kRuntime, "no state named \"" + next + "\"");
          continue;
        }
        EnterState(*t, target, std::move(o.output));
        break;
      }
    }
    if (finished_ || t->dead) return;
    o = Execute(*t);
  }
}

void Runtime::EnterState(Thread& t, const State* state, Value input) {
  t.state = state;
  t.input = std::move(input);
  t.entered_at = now_;
  t.retry_count = 0;
  t.retrier_attempts.clear();
  // Wait records its entry itself, with the deadline.
  if (recording() && state->type != StateType::kWait) {
    Record(TypedEventName(*state, "StateEntered"), &t, Value{{"input", t.input}});
  }
}

Outcome Runtime::HandleError(Thread& t, ErrorInfo error) {
  if (IsUncatchable(error.error)) {
    EndExecution(ExecutionResult::Status::kFailed, Value(), std::move(error));
    return Outcome::Blocked();
  }
  const State& s = *t.state;
  for (size_t i = 0; i < s.retry.size(); ++i) {
    const Retrier& r = s.retry[i];
    if (!ErrorMatches(r.error_equals, error.error)) continue;
    if (t.retrier_attempts.size() < s.retry.size()) t.retrier_attempts.resize(s.retry.size(), 0);
    int made = t.retrier_attempts[i];
    if (made >= r.max_attempts) break;  // the first match decides; no further scan
    double delay = r.interval_seconds * std::pow(r.backoff_rate, made);
    if (r.max_delay_seconds) delay = std::min(delay, *r.max_delay_seconds);
    if (r.jitter_full) delay *= random_.NextDouble();
    Micros delay_us = SecondsToMicros(delay);
    t.retrier_attempts[i] = made + 1;
    ++t.retry_count;
    Micros deadline = now_ + std::max<Micros>(delay_us, 0);
    if (recording()) {
      Record("RetryScheduled", &t,
             Value{{"error", error.error},
                   {"cause", error.cause},
                   {"attempt", t.retry_count},
                   {"delay_seconds", static_cast<double>(delay_us) / kMicrosPerSecond},
                   {"deadline", deadline}});
    }
    if (delay_us <= 0) return Outcome{Outcome::Kind::kRerun, Value(), nullptr, {}};
    t.timer_id = StartTimerFor(t, TimerKind::kRetry, deadline);
    return Outcome::Blocked();
  }
  for (const Catcher& c : s.catchers) {
    if (!ErrorMatches(c.error_equals, error.error)) continue;
    Value error_output{{"Error", std::move(error.error)}, {"Cause", std::move(error.cause)}};
    switch (c.result_path.kind) {
      case OptionalPath::Kind::kAbsent:
        return Outcome::Goto(c.next, std::move(error_output));
      case OptionalPath::Kind::kNull:
        return Outcome::Goto(c.next, std::move(t.input));
      case OptionalPath::Kind::kSet: {
        auto merged =
            ApplyResultPath(c.result_path.path, std::move(t.input), std::move(error_output));
        if (!merged.ok()) return {Outcome::Kind::kFailThread, Value(), nullptr, merged.error()};
        return Outcome::Goto(c.next, std::move(merged).value());
      }
    }
  }
  return {Outcome::Kind::kFailThread, Value(), nullptr, std::move(error)};
}

void Runtime::EndThread(Thread* t, bool ok, Value output, ErrorInfo error) {
  Thread* parent = t->parent;
  if (parent == nullptr) {
    if (ok) {
      EndExecution(ExecutionResult::Status::kSucceeded, std::move(output), {});
    } else {
      EndExecution(ExecutionResult::Status::kFailed, Value(), std::move(error));
    }
    return;
  }
  int64_t index = t->index;
  auto& running = parent->fanout->running;
  auto it = running.find(index);
  retired_.push_back(std::move(it->second));
  running.erase(it);
  if (parent->fanout->is_map) {
    OnMapChildEnded(*this, *parent, index, ok, std::move(output), std::move(error));
  } else {
    OnParallelChildEnded(*this, *parent, index, ok, std::move(output), std::move(error));
  }
}

void Runtime::CancelThread(Thread& t) {
  if (!t.task_id.empty()) {
    if (out_ != nullptr) out_->cancel_tasks.push_back({t.task_id});
    FinishTask(t);
  }
  CancelTimerId(t.timeout_timer_id);
  CancelTimerId(t.heartbeat_timer_id);
  CancelTimerId(t.timer_id);
  if (t.fanout) CancelChildren(t);
  t.resume.reset();
  t.dead = true;
}

void Runtime::CancelChildren(Thread& parent) {
  if (!parent.fanout) return;
  for (auto& [index, child] : parent.fanout->running) {
    CancelThread(*child);
    if (recording() && parent.fanout->is_map) {
      Record("MapIterationAborted", &parent, Value{{"index", index}});
    }
    graveyard_.push_back(std::move(child));
  }
  parent.fanout.reset();
}

Thread* Runtime::Spawn(Thread& parent, const StateMachine& machine, int64_t index, Value input) {
  auto child = std::make_unique<Thread>();
  Thread* c = child.get();
  c->parent = &parent;
  c->machine = &machine;
  c->index = index;
  parent.fanout->running.emplace(index, std::move(child));
  if (recording() && parent.fanout->is_map) {
    Record("MapIterationStarted", &parent, Value{{"index", index}});
  }
  EnterState(*c, machine.start(), std::move(input));
  ready_.push_back(c);
  return c;
}

void Runtime::Resume(Thread& t, Outcome outcome) {
  t.resume = std::move(outcome);
  ready_.push_back(&t);
}

}  // namespace internal

// --- Execution ---

struct Execution::Impl {
  Impl(std::shared_ptr<const Definition> d, ExecutionOptions o) : rt(std::move(d), std::move(o)) {}
  internal::Runtime rt;
};

Execution::Execution(std::shared_ptr<const Definition> definition, ExecutionOptions options)
    : impl_(std::make_unique<Impl>(std::move(definition), std::move(options))) {}
Execution::~Execution() = default;

Transition Execution::Step(const Event& event) { return impl_->rt.Step(Event(event)); }
Transition Execution::Step(Event&& event) { return impl_->rt.Step(std::move(event)); }
bool Execution::finished() const { return impl_->rt.finished(); }
std::vector<StartTask> Execution::RunningTasks() const { return impl_->rt.RunningTasks(); }
std::vector<StartTimer> Execution::PendingTimers() const { return impl_->rt.PendingTimers(); }

}  // namespace sluice::asl
