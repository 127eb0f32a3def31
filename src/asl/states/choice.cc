// Choice: the first matching rule's Next, else Default, else States.NoChoiceMatched
// (asl-notes §7.3). Operands of the wrong type make a comparison false; a missing Variable
// is States.Runtime except for IsPresent. The output is the InputPath-filtered input with
// OutputPath applied.
#include <utility>

#include "asl/execution_state.h"

namespace sluice::asl::internal {
namespace {

using Op = ChoiceRule::Op;

// -1, 0 or 1. Integers compare exactly; anything with a fraction as doubles.
int CompareNumbers(const Value& a, const Value& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    bool au = a.is_number_unsigned(), bu = b.is_number_unsigned();
    if (au == bu) {
      if (au) {
        uint64_t x = a.get<uint64_t>(), y = b.get<uint64_t>();
        return x < y ? -1 : (x > y ? 1 : 0);
      }
      int64_t x = a.get<int64_t>(), y = b.get<int64_t>();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    // nlohmann keeps non-negative integers unsigned: a signed one here is negative.
    int64_t s = au ? b.get<int64_t>() : a.get<int64_t>();
    if (s < 0) return au ? 1 : -1;
    uint64_t x = a.get<uint64_t>(), y = b.get<uint64_t>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  double x = a.get<double>(), y = b.get<double>();
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool Holds(int cmp, Op op) {
  switch (op) {
    case Op::kStringEquals:
    case Op::kNumericEquals:
    case Op::kTimestampEquals:
      return cmp == 0;
    case Op::kStringLessThan:
    case Op::kNumericLessThan:
    case Op::kTimestampLessThan:
      return cmp < 0;
    case Op::kStringGreaterThan:
    case Op::kNumericGreaterThan:
    case Op::kTimestampGreaterThan:
      return cmp > 0;
    case Op::kStringLessThanEquals:
    case Op::kNumericLessThanEquals:
    case Op::kTimestampLessThanEquals:
      return cmp <= 0;
    case Op::kStringGreaterThanEquals:
    case Op::kNumericGreaterThanEquals:
    case Op::kTimestampGreaterThanEquals:
      return cmp >= 0;
    default:
      return false;
  }
}

// Compares `v` with the operand under `op`; false when the types do not fit the operator.
bool Compare(Op op, const Value& v, const Value& operand) {
  switch (op) {
    case Op::kStringEquals:
    case Op::kStringLessThan:
    case Op::kStringGreaterThan:
    case Op::kStringLessThanEquals:
    case Op::kStringGreaterThanEquals: {
      if (!v.is_string() || !operand.is_string()) return false;
      int c = v.get_ref<const std::string&>().compare(operand.get_ref<const std::string&>());
      return Holds(c < 0 ? -1 : (c > 0 ? 1 : 0), op);
    }
    case Op::kStringMatches:
      return v.is_string() && operand.is_string() &&
             StringMatchesPattern(v.get_ref<const std::string&>(),
                                  operand.get_ref<const std::string&>());
    case Op::kNumericEquals:
    case Op::kNumericLessThan:
    case Op::kNumericGreaterThan:
    case Op::kNumericLessThanEquals:
    case Op::kNumericGreaterThanEquals:
      return v.is_number() && operand.is_number() && Holds(CompareNumbers(v, operand), op);
    case Op::kBooleanEquals:
      return v.is_boolean() && operand.is_boolean() && v.get<bool>() == operand.get<bool>();
    case Op::kTimestampEquals:
    case Op::kTimestampLessThan:
    case Op::kTimestampGreaterThan:
    case Op::kTimestampLessThanEquals:
    case Op::kTimestampGreaterThanEquals: {
      if (!v.is_string() || !operand.is_string()) return false;
      auto a = ParseTimestamp(v.get_ref<const std::string&>());
      auto b = ParseTimestamp(operand.get_ref<const std::string&>());
      if (!a || !b) return false;
      return Holds(*a < *b ? -1 : (*b < *a ? 1 : 0), op);
    }
    default:
      return false;
  }
}

bool TypeTest(Op op, const Value& v) {
  switch (op) {
    case Op::kIsNull:
      return v.is_null();
    case Op::kIsNumeric:
      return v.is_number();
    case Op::kIsString:
      return v.is_string();
    case Op::kIsBoolean:
      return v.is_boolean();
    case Op::kIsTimestamp:
      return v.is_string() && ParseTimestamp(v.get_ref<const std::string&>()).has_value();
    default:
      return false;
  }
}

bool Expected(const ChoiceRule& r) { return !r.operand.is_boolean() || r.operand.get<bool>(); }

}  // namespace

bool StringMatchesPattern(std::string_view text, std::string_view pattern) {
  // Glob with `*` only; `\*` and `\\` are literal. Backtracks to the last star seen.
  size_t ti = 0, pi = 0;
  size_t star_p = std::string_view::npos, star_t = 0;
  while (ti < text.size()) {
    if (pi < pattern.size()) {
      char pc = pattern[pi];
      if (pc == '*') {
        star_p = ++pi;
        star_t = ti;
        continue;
      }
      size_t step = 1;
      if (pc == '\\' && pi + 1 < pattern.size()) {
        pc = pattern[pi + 1];
        step = 2;
      }
      if (pc == text[ti]) {
        pi += step;
        ++ti;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    ti = ++star_t;
  }
  while (pi < pattern.size() && pattern[pi] == '*') ++pi;
  return pi == pattern.size();
}

EvalResult<bool> EvaluateRule(Runtime& rt, const Thread& t, const ChoiceRule& r,
                              const Value& input) {
  switch (r.op) {
    case Op::kAnd:
      for (const ChoiceRule& c : r.children) {
        auto v = EvaluateRule(rt, t, c, input);
        if (!v.ok() || !*v) return v;
      }
      return true;
    case Op::kOr:
      for (const ChoiceRule& c : r.children) {
        auto v = EvaluateRule(rt, t, c, input);
        if (!v.ok() || *v) return v;
      }
      return false;
    case Op::kNot: {
      if (r.children.empty()) return false;
      auto v = EvaluateRule(rt, t, r.children[0], input);
      if (!v.ok()) return v;
      return !*v;
    }
    case Op::kIsPresent:
      return rt.Exists(r.variable, input, t) == Expected(r);
    default:
      break;
  }
  Value owned;
  auto v = rt.Lookup(r.variable, input, t, &owned);
  if (!v.ok()) return v.error();
  switch (r.op) {
    case Op::kIsNull:
    case Op::kIsNumeric:
    case Op::kIsString:
    case Op::kIsBoolean:
    case Op::kIsTimestamp:
      return TypeTest(r.op, **v) == Expected(r);
    default:
      break;
  }
  if (!r.operand_is_path) return Compare(r.op, **v, r.operand);
  Value owned_operand;
  auto operand = rt.Lookup(r.operand_path, input, t, &owned_operand);
  if (!operand.ok()) return operand.error();
  return Compare(r.op, **v, **operand);
}

Outcome RunChoice(Runtime& rt, Thread& t) {
  const State& s = *t.state;
  auto in = ComputeEffectiveInput(rt, t, /*with_parameters=*/false);
  if (!in.ok()) return Outcome::Fail(in.error());
  const std::string* next = nullptr;
  for (const ChoiceRule& rule : s.choices) {
    auto match = EvaluateRule(rt, t, rule, in->Get(t));
    if (!match.ok()) return Outcome::Fail(match.error());
    if (*match) {
      next = &rule.next;
      break;
    }
  }
  if (next == nullptr) {
    if (s.default_next.empty()) {
      return Outcome::Fail(errors::kNoChoiceMatched,
                           "No Choice rule matched in state '" + s.name + "' and no Default");
    }
    next = &s.default_next;
  }
  auto out = ApplyOutputPath(rt, t, TakeEffective(*in, t, /*raw_needed=*/false));
  if (!out.ok()) return Outcome::Fail(out.error());
  return Outcome::Goto(*next, std::move(out).value());
}

}  // namespace sluice::asl::internal
