// Parallel: every branch gets the effective input and runs concurrently; the result is the
// array of branch outputs in Branches order. The first failing branch stops the others and
// the state fails with that branch's error, to which its Retry and Catch apply (asl-notes
// §7.7).
#include <utility>

#include "asl/execution_state.h"

namespace sluice::asl::internal {

Outcome RunParallel(Runtime& rt, Thread& t) {
  const State& s = *t.state;
  auto in = ComputeEffectiveInput(rt, t, /*with_parameters=*/true);
  if (!in.ok()) return Outcome::Fail(in.error());
  size_t total = s.branches.size();
  if (total == 0) return FinishWithResult(rt, t, Value::array(), /*with_selector=*/true);
  auto f = std::make_unique<Fanout>();
  f->is_map = false;
  f->total = total;
  f->results = Value::array();
  f->results.get_ref<Value::array_t&>().resize(total);
  t.fanout = std::move(f);
  if (rt.recording()) rt.Record("ParallelStateStarted", &t, Value{{"branches", total}});
  for (size_t i = 0; i < total; ++i) {
    Value input = i + 1 < total ? in->Get(t) : TakeEffective(*in, t, RawNeededAfterWork(s));
    rt.Spawn(t, *s.branches[i], static_cast<int64_t>(i), std::move(input));
  }
  return Outcome::Blocked();
}

void OnParallelChildEnded(Runtime& rt, Thread& parent, int64_t index, bool ok, Value output,
                          ErrorInfo error) {
  if (!ok) {
    rt.CancelChildren(parent);
    rt.Resume(parent, Outcome::Fail(std::move(error)));
    return;
  }
  Fanout& f = *parent.fanout;
  f.results[static_cast<size_t>(index)] = std::move(output);
  if (++f.done < f.total) return;
  Value results = std::move(f.results);
  parent.fanout.reset();
  rt.Resume(parent, FinishWithResult(rt, parent, std::move(results), /*with_selector=*/true));
}

}  // namespace sluice::asl::internal
