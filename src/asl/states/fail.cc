// Fail: ends its thread with Error/ErrorPath and Cause/CausePath (asl-notes §7.6). The paths
// (or intrinsics) read the state's raw input and must give strings.
#include <utility>

#include "asl/execution_state.h"

namespace sluice::asl::internal {
namespace {

// Evaluates ErrorPath/CausePath; `out` is left alone when neither form is set.
std::optional<ErrorInfo> Resolve(Runtime& rt, Thread& t, const PathOrIntrinsic& p,
                                 std::string_view field, std::string* out) {
  if (!p.path && !p.intrinsic) return std::nullopt;
  auto v = p.path ? rt.Eval(*p.path, t.input, t) : rt.Call(*p.intrinsic, t.input, t);
  if (!v.ok()) return v.error();
  if (!v->is_string()) {
    return ErrorInfo{std::string(errors::kRuntime),
                     std::string(field) + " of Fail state '" + t.state->name +
                         "' must resolve to a string, got " + v->dump()};
  }
  *out = v->get<std::string>();
  return std::nullopt;
}

}  // namespace

Outcome RunFail(Runtime& rt, Thread& t) {
  const State& s = *t.state;
  ErrorInfo e;
  if (s.error) e.error = *s.error;
  if (s.cause) e.cause = *s.cause;
  if (auto err = Resolve(rt, t, s.error_path, "ErrorPath", &e.error)) return Outcome::Fail(*err);
  if (auto err = Resolve(rt, t, s.cause_path, "CausePath", &e.cause)) return Outcome::Fail(*err);
  // A Fail state has no Retry or Catch: its error ends the thread as it is.
  return {Outcome::Kind::kFailThread, Value(), nullptr, std::move(e)};
}

}  // namespace sluice::asl::internal
