// Task: starts one invocation of the resource with the effective input and waits for it
// (asl-notes §7.2). The result goes through ResultSelector, ResultPath and OutputPath when
// the TaskSucceeded event comes (interpreter.cc). TimeoutSeconds and HeartbeatSeconds (or
// their Path forms) become timers; there is no default timeout.
#include <utility>

#include "asl/execution_state.h"

namespace sluice::asl::internal {
namespace {

// A positive integer number of seconds from a literal or a reference path.
EvalResult<std::optional<int64_t>> Seconds(Runtime& rt, Thread& t, const Value& input,
                                           const LiteralOrPath<int64_t>& field,
                                           std::string_view name) {
  if (field.literal) return std::optional<int64_t>(*field.literal);
  if (!field.path) return std::optional<int64_t>();
  auto v = rt.Eval(*field.path, input, t);
  if (!v.ok()) return v.error();
  bool integral =
      v->is_number_integer() ||
      (v->is_number_float() && v->get<double>() == static_cast<int64_t>(v->get<double>()));
  if (!integral || v->get<double>() < 1) {
    return ErrorInfo{std::string(errors::kRuntime),
                     std::string(name) + " of state '" + t.state->name +
                         "' must be a positive integer, got " + v->dump()};
  }
  return std::optional<int64_t>(static_cast<int64_t>(v->get<double>()));
}

}  // namespace

Outcome RunTask(Runtime& rt, Thread& t) {
  const State& s = *t.state;
  auto in = ComputeEffectiveInput(rt, t, /*with_parameters=*/false);
  if (!in.ok()) return Outcome::Fail(in.error());
  // The Path forms read the input after InputPath, before Parameters.
  auto timeout = Seconds(rt, t, in->Get(t), s.timeout_seconds, "TimeoutSecondsPath");
  if (!timeout.ok()) return Outcome::Fail(timeout.error());
  auto heartbeat = Seconds(rt, t, in->Get(t), s.heartbeat_seconds, "HeartbeatSecondsPath");
  if (!heartbeat.ok()) return Outcome::Fail(heartbeat.error());
  if (s.parameters) {
    auto v = rt.Apply(*s.parameters, in->Get(t), t);
    if (!v.ok()) return Outcome::Fail(v.error());
    in->is_raw = false;
    in->ref = nullptr;
    in->owned = std::move(v).value();
  }
  rt.StartTaskFor(t, TakeEffective(*in, t, RawNeededAfterWork(s)), *timeout, *heartbeat);
  return Outcome::Blocked();
}

}  // namespace sluice::asl::internal
