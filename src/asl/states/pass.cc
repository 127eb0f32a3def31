// Pass: the result is `Result` if given, else the effective input (asl-notes §7.1).
#include <utility>

#include "asl/execution_state.h"

namespace sluice::asl::internal {

Outcome RunPass(Runtime& rt, Thread& t) {
  const State& s = *t.state;
  auto in = ComputeEffectiveInput(rt, t, /*with_parameters=*/true);
  if (!in.ok()) return Outcome::Fail(in.error());
  Value result;
  if (s.result) {
    result = *s.result;
  } else {
    result = TakeEffective(*in, t, RawNeededAfterWork(s));
  }
  return FinishWithResult(rt, t, std::move(result), /*with_selector=*/false);
}

}  // namespace sluice::asl::internal
