// Wait: Seconds, SecondsPath, Timestamp or TimestampPath (asl-notes §7.4). The output
// (InputPath then OutputPath) is computed on entry and held while a timer runs; a deadline
// not after now means no wait.
#include <cmath>
#include <utility>

#include "asl/execution_state.h"

namespace sluice::asl::internal {
namespace {

Micros ToMicros(const Instant& in) { return in.seconds * kMicrosPerSecond + in.nanos / 1000; }

EvalResult<Micros> Deadline(Runtime& rt, Thread& t, const Value& input) {
  const State& s = *t.state;
  if (s.seconds) return rt.now() + SecondsToMicros(*s.seconds);
  if (s.timestamp) {
    auto in = ParseTimestamp(*s.timestamp);
    if (!in) {
      return ErrorInfo{std::string(errors::kRuntime), "invalid Timestamp '" + *s.timestamp + "'"};
    }
    return ToMicros(*in);
  }
  if (s.seconds_path) {
    auto v = rt.Eval(*s.seconds_path, input, t);
    if (!v.ok()) return v.error();
    if (!v->is_number() || v->get<double>() < 0) {
      return ErrorInfo{std::string(errors::kRuntime),
                       "SecondsPath '" + s.seconds_path->text() + "' of state '" + s.name +
                           "' must select a non-negative number, got " + v->dump()};
    }
    return rt.now() + SecondsToMicros(v->get<double>());
  }
  if (s.timestamp_path) {
    auto v = rt.Eval(*s.timestamp_path, input, t);
    if (!v.ok()) return v.error();
    std::optional<Instant> in;
    if (v->is_string()) in = ParseTimestamp(v->get_ref<const std::string&>());
    if (!in) {
      return ErrorInfo{std::string(errors::kRuntime),
                       "TimestampPath '" + s.timestamp_path->text() + "' of state '" + s.name +
                           "' must select an RFC 3339 timestamp, got " + v->dump()};
    }
    return ToMicros(*in);
  }
  return rt.now();
}

}  // namespace

Outcome RunWait(Runtime& rt, Thread& t) {
  auto in = ComputeEffectiveInput(rt, t, /*with_parameters=*/false);
  // SecondsPath and TimestampPath read the input after InputPath.
  EvalResult<Micros> deadline =
      in.ok() ? Deadline(rt, t, in->Get(t)) : EvalResult<Micros>(in.error());
  if (rt.recording()) {
    Value details{{"input", t.input}};
    if (deadline.ok()) details["deadline"] = *deadline;
    rt.Record("WaitStateEntered", &t, std::move(details));
  }
  if (!deadline.ok()) return Outcome::Fail(deadline.error());
  auto out = ApplyOutputPath(rt, t, TakeEffective(*in, t, /*raw_needed=*/false));
  if (!out.ok()) return Outcome::Fail(out.error());
  if (*deadline <= rt.now()) return Outcome::Next(std::move(out).value());
  t.input = std::move(out).value();
  t.timer_id = rt.StartTimerFor(t, TimerKind::kWait, *deadline);
  return Outcome::Blocked();
}

}  // namespace sluice::asl::internal
