// The input/output pipeline shared by the state types (asl-notes §3):
// InputPath -> Parameters -> [work] -> ResultSelector -> ResultPath -> OutputPath.
// Values are moved through it; the raw input is copied only when it is still needed after
// the result is merged (ResultPath into it, or a Retry/Catch that would re-read it).
#include <algorithm>
#include <cmath>
#include <utility>

#include "asl/execution_state.h"

namespace sluice::asl::internal {

namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

const Value* Member(const Value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  for (const auto& [k, member] : v.get_ref<const Value::object_t&>()) {
    if (k == key) return &member;
  }
  return nullptr;
}

}  // namespace

// Anything unusual (escapes, quotes, wildcards, negative indexes, `$$`) returns nullptr and
// leaves the path to Path::Evaluate.
const Value* FindSimple(const Path& path, const Value& root) {
  std::string_view s = path.text();
  if (s.empty() || s[0] != '$' || (s.size() > 1 && s[1] == '$')) return nullptr;
  const Value* cur = &root;
  size_t i = 1;
  const size_t n = s.size();
  while (i < n) {
    if (s[i] == '.') {
      size_t start = ++i;
      while (i < n && IsNameChar(s[i])) ++i;
      if (i == start || (i < n && s[i] != '.' && s[i] != '[')) return nullptr;
      cur = Member(*cur, s.substr(start, i - start));
    } else if (s[i] == '[' && i + 1 < n && s[i + 1] == '\'') {
      size_t start = i + 2;
      size_t end = start;
      while (end < n && s[end] != '\'' && s[end] != '\\') ++end;
      if (end + 1 >= n || s[end] != '\'' || s[end + 1] != ']') return nullptr;
      cur = Member(*cur, s.substr(start, end - start));
      i = end + 2;
    } else if (s[i] == '[') {
      size_t start = ++i;
      size_t index = 0;
      while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 9)
        index = index * 10 + (s[i++] - '0');
      if (i == start || i >= n || s[i] != ']') return nullptr;
      ++i;
      cur = cur->is_array() && index < cur->size() ? &(*cur)[index] : nullptr;
    } else {
      return nullptr;
    }
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

Micros SecondsToMicros(double seconds) {
  constexpr double kMaxSeconds = 1e11;
  if (!(seconds > 0)) return 0;  // also NaN
  return static_cast<Micros>(std::llround(std::min(seconds, kMaxSeconds) * kMicrosPerSecond));
}

bool RawNeededAfterWork(const State& s) {
  bool merges = s.result_path.kind == OptionalPath::Kind::kNull ||
                (s.result_path.kind == OptionalPath::Kind::kSet &&
                 !(s.result_path.path.IsRoot() && !s.result_path.path.IsContext()));
  return merges || !s.retry.empty() || !s.catchers.empty();
}

EvalResult<EffectiveInput> ComputeEffectiveInput(Runtime& rt, Thread& t, bool with_parameters) {
  const State& s = *t.state;
  EffectiveInput in;
  switch (s.input_path.kind) {
    case OptionalPath::Kind::kAbsent:
      break;
    case OptionalPath::Kind::kNull:
      in.is_raw = false;
      in.owned = Value::object();
      break;
    case OptionalPath::Kind::kSet:
      if (s.input_path.path.IsRoot() && !s.input_path.path.IsContext()) break;
      if (!s.input_path.path.IsContext()) {
        if (const Value* v = FindSimple(s.input_path.path, t.input)) {
          in.is_raw = false;
          in.ref = v;
          break;
        }
      }
      {
        auto v = rt.Eval(s.input_path.path, t.input, t);
        if (!v.ok()) return v.error();
        in.is_raw = false;
        in.owned = std::move(v).value();
      }
      break;
  }
  if (with_parameters && s.parameters) {
    auto v = rt.Apply(*s.parameters, in.Get(t), t);
    if (!v.ok()) return v.error();
    in.is_raw = false;
    in.ref = nullptr;
    in.owned = std::move(v).value();
  }
  return in;
}

Value TakeEffective(EffectiveInput& in, Thread& t, bool raw_needed) {
  if (in.ref != nullptr) {
    // `ref` points into t.input, which this state owns: move the node out if no one reads
    // the raw input again.
    return raw_needed ? Value(*in.ref) : std::move(*const_cast<Value*>(in.ref));
  }
  if (!in.is_raw) return std::move(in.owned);
  if (raw_needed) return t.input;
  return std::move(t.input);
}

EvalResult<Value> ApplyOutputPath(Runtime& rt, const Thread& t, Value v) {
  const OptionalPath& op = t.state->output_path;
  switch (op.kind) {
    case OptionalPath::Kind::kAbsent:
      return v;
    case OptionalPath::Kind::kNull:
      return Value::object();
    case OptionalPath::Kind::kSet:
      if (op.path.IsRoot() && !op.path.IsContext()) return v;
      if (!op.path.IsContext()) {
        if (const Value* node = FindSimple(op.path, v))
          return Value(std::move(*const_cast<Value*>(node)));
      }
      return rt.Eval(op.path, v, t);
  }
  return v;
}

Outcome FinishWithResult(Runtime& rt, Thread& t, Value result, bool with_selector) {
  const State& s = *t.state;
  if (with_selector && s.result_selector) {
    auto v = rt.Apply(*s.result_selector, result, t);
    if (!v.ok()) return Outcome::Fail(v.error());
    result = std::move(v).value();
  }
  Value merged;
  switch (s.result_path.kind) {
    case OptionalPath::Kind::kAbsent:
      merged = std::move(result);
      break;
    case OptionalPath::Kind::kNull:
      // The raw input stays where it is until the state is over: Retry re-reads it.
      merged = (s.retry.empty() && s.catchers.empty()) ? std::move(t.input) : t.input;
      break;
    case OptionalPath::Kind::kSet:
      if (s.result_path.path.IsRoot()) {
        merged = std::move(result);
      } else {
        bool keep_raw = !s.retry.empty() || !s.catchers.empty();
        auto v = ApplyResultPath(s.result_path.path, keep_raw ? Value(t.input) : std::move(t.input),
                                 std::move(result));
        if (!v.ok()) return Outcome::Fail(v.error());
        merged = std::move(v).value();
      }
      break;
  }
  auto out = ApplyOutputPath(rt, t, std::move(merged));
  if (!out.ok()) return Outcome::Fail(out.error());
  return Outcome::Next(std::move(out).value());
}

}  // namespace sluice::asl::internal
