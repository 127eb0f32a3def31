// Map (inline): one iteration of the ItemProcessor per item of ItemsPath, at most
// MaxConcurrency at a time (0 or absent: the engine default), results in input order
// (asl-notes §7.8). ItemSelector runs per item with $$.Map.Item.{Index,Value}. Any failed
// iteration fails the state and stops the others, unless ToleratedFailureCount/Percentage
// allow it (then a failed item's slot holds its {"Error", "Cause"}); past the threshold the
// error is States.ExceedToleratedFailureThreshold.
//
// Memory: an item is moved into its iteration when nothing else reads it, an iteration's
// thread is freed as soon as it ends, and only its output slot stays.
#include <cmath>
#include <limits>
#include <utility>

#include "asl/execution_state.h"

namespace sluice::asl::internal {
namespace {

ErrorInfo RuntimeError(const State& s, std::string what) {
  return {std::string(errors::kRuntime), std::move(what) + " (Map state '" + s.name + "')"};
}

// A non-negative number from a literal or a reference path over the effective input.
template <typename T>
EvalResult<std::optional<double>> Number(Runtime& rt, const Thread& t, const Value& input,
                                         const LiteralOrPath<T>& field, std::string_view name,
                                         bool integer) {
  if (field.literal) return std::optional<double>(static_cast<double>(*field.literal));
  if (!field.path) return std::optional<double>();
  EvalResult<Value> v = rt.Eval(*field.path, input, t);
  if (!v.ok()) return v.error();
  if (!v->is_number() || v->get<double>() < 0 ||
      (integer && v->get<double>() != std::floor(v->get<double>()))) {
    return RuntimeError(*t.state, std::string(name) + " '" + field.path->text() +
                                      "' must select a non-negative " +
                                      (integer ? "integer" : "number") + ", got " + v->dump());
  }
  return std::optional<double>(v->get<double>());
}

// Starts items while there is room. On an ItemSelector error, returns it (the caller stops
// the running iterations).
std::optional<ErrorInfo> StartItems(Runtime& rt, Thread& t) {
  const State& s = *t.state;
  Fanout& f = *t.fanout;
  bool moved_item = false;
  while (f.next < f.total && (f.max_concurrency == 0 || f.running.size() < f.max_concurrency)) {
    size_t i = f.next++;
    Value& item = (*f.items)[i];
    Value input;
    if (s.item_selector) {
      rt.SetMapItem(static_cast<int64_t>(i), f.move_items ? std::move(item) : Value(item));
      moved_item = true;
      auto v = rt.Apply(*s.item_selector, *f.effective, t);
      if (!v.ok()) {
        rt.ClearMapItem();
        return v.error();
      }
      input = std::move(v).value();
    } else {
      input = f.move_items ? std::move(item) : item;
    }
    rt.Spawn(t, *s.processor, static_cast<int64_t>(i), std::move(input));
  }
  if (moved_item) rt.ClearMapItem();
  return std::nullopt;
}

void Complete(Runtime& rt, Thread& t) {
  Value results = std::move(t.fanout->results);
  t.fanout.reset();
  rt.Resume(t, FinishWithResult(rt, t, std::move(results), /*with_selector=*/true));
}

}  // namespace

Outcome RunMap(Runtime& rt, Thread& t) {
  const State& s = *t.state;
  if (!s.processor || s.processor->start() == nullptr) {
    return Outcome::Fail(RuntimeError(s, "no ItemProcessor"));
  }
  auto in = ComputeEffectiveInput(rt, t, /*with_parameters=*/false);
  if (!in.ok()) return Outcome::Fail(in.error());
  auto f = std::make_unique<Fanout>();
  f->is_map = true;
  bool effective_in_raw = true;
  if (in->ref != nullptr) {
    f->effective = const_cast<Value*>(in->ref);  // inside t.input, which this state owns
  } else if (in->is_raw) {
    f->effective = &t.input;
  } else {
    f->owned_input = std::move(in->owned);
    f->effective = &f->owned_input;
    effective_in_raw = false;
  }
  const OptionalPath& ip = s.items_path;
  if (ip.kind != OptionalPath::Kind::kSet || (ip.path.IsRoot() && !ip.path.IsContext())) {
    f->items = f->effective;
  } else if (const Value* found =
                 ip.path.IsContext() ? nullptr : FindSimple(ip.path, *f->effective)) {
    f->items = const_cast<Value*>(found);
  } else {
    auto v = rt.Eval(ip.path, *f->effective, t);
    if (!v.ok()) return Outcome::Fail(v.error());
    f->owned_items = std::move(v).value();
    f->items = &f->owned_items;
  }
  if (!f->items->is_array()) {
    return Outcome::Fail(RuntimeError(
        s, "ItemsPath '" + (ip.kind == OptionalPath::Kind::kSet ? ip.path.text() : "$") +
               "' must select an array, got " + std::string(f->items->type_name())));
  }

  auto mc = Number(rt, t, *f->effective, s.max_concurrency, "MaxConcurrencyPath", true);
  if (!mc.ok()) return Outcome::Fail(mc.error());
  auto tc =
      Number(rt, t, *f->effective, s.tolerated_failure_count, "ToleratedFailureCountPath", true);
  if (!tc.ok()) return Outcome::Fail(tc.error());
  auto tp = Number(rt, t, *f->effective, s.tolerated_failure_percentage,
                   "ToleratedFailurePercentagePath", false);
  if (!tp.ok()) return Outcome::Fail(tp.error());
  double limit = mc->value_or(0);
  if (limit == 0) limit = std::max(rt.options().default_max_concurrency, 0);
  f->max_concurrency = limit >= static_cast<double>(std::numeric_limits<uint32_t>::max())
                           ? 0
                           : static_cast<size_t>(limit);
  if (*tc) f->tolerated_count = static_cast<int64_t>(**tc);
  if (*tp) f->tolerated_percentage = **tp;

  // Items no one else reads are moved into their iterations: items Map owns, or items
  // inside the input when neither ItemSelector (it reads `$`) nor, for the raw input,
  // ResultPath, Retry or Catch read it again. Then the raw input can go before the
  // iterations run.
  bool raw_free = !RawNeededAfterWork(s);
  if (f->items == &f->owned_items) {
    f->move_items = true;
  } else {
    f->move_items = !s.item_selector && (!effective_in_raw || raw_free);
  }
  if (raw_free && !effective_in_raw) t.input = Value();

  f->total = f->items->size();
  if (f->total == 0) return FinishWithResult(rt, t, Value::array(), /*with_selector=*/true);
  f->results = Value::array();
  f->results.get_ref<Value::array_t&>().resize(f->total);
  t.fanout = std::move(f);
  if (rt.recording()) rt.Record("MapStateStarted", &t, Value{{"length", t.fanout->total}});
  if (auto err = StartItems(rt, t)) {
    rt.CancelChildren(t);
    return Outcome::Fail(std::move(*err));
  }
  return Outcome::Blocked();
}

void OnMapChildEnded(Runtime& rt, Thread& parent, int64_t index, bool ok, Value output,
                     ErrorInfo error) {
  Fanout& f = *parent.fanout;
  ++f.done;
  size_t slot = static_cast<size_t>(index);
  if (ok) {
    if (rt.recording()) rt.Record("MapIterationSucceeded", &parent, Value{{"index", index}});
    f.results[slot] = std::move(output);
  } else {
    if (rt.recording()) {
      rt.Record("MapIterationFailed", &parent,
                Value{{"index", index}, {"error", error.error}, {"cause", error.cause}});
    }
    ++f.failed;
    std::optional<ErrorInfo> failure;
    if (!f.tolerated_count && !f.tolerated_percentage) {
      failure = std::move(error);
    } else if ((f.tolerated_count && static_cast<int64_t>(f.failed) > *f.tolerated_count) ||
               (f.tolerated_percentage &&
                static_cast<double>(f.failed) * 100.0 >
                    *f.tolerated_percentage * static_cast<double>(f.total))) {
      failure = ErrorInfo{std::string(errors::kExceedToleratedFailureThreshold),
                          "The specified tolerated failure threshold was exceeded (" +
                              std::to_string(f.failed) + " of " + std::to_string(f.total) +
                              " items failed; last: " + error.error + ")"};
    } else {
      f.results[slot] = Value{{"Error", std::move(error.error)}, {"Cause", std::move(error.cause)}};
    }
    if (failure) {
      rt.CancelChildren(parent);
      rt.Resume(parent, Outcome::Fail(std::move(*failure)));
      return;
    }
  }
  if (auto err = StartItems(rt, parent)) {
    rt.CancelChildren(parent);
    rt.Resume(parent, Outcome::Fail(std::move(*err)));
    return;
  }
  if (f.done == f.total) Complete(rt, parent);
}

}  // namespace sluice::asl::internal
