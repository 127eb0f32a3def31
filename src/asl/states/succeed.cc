// Succeed: ends its thread (the execution, a branch or an iteration) with InputPath then
// OutputPath applied to its input (asl-notes §7.5).
#include <utility>

#include "asl/execution_state.h"

namespace sluice::asl::internal {

Outcome RunSucceed(Runtime& rt, Thread& t) {
  auto in = ComputeEffectiveInput(rt, t, /*with_parameters=*/false);
  if (!in.ok()) return Outcome::Fail(in.error());
  auto out = ApplyOutputPath(rt, t, TakeEffective(*in, t, /*raw_needed=*/false));
  if (!out.ok()) return Outcome::Fail(out.error());
  return Outcome::End(std::move(out).value());
}

}  // namespace sluice::asl::internal
