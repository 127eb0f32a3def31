// Intrinsic functions: `States.Format('{} and {}', $.a, $$.Execution.Name)` and the rest of
// the list in asl-notes §4 (Format, StringToJson, JsonToString, Array, ArrayPartition,
// ArrayContains, ArrayRange, ArrayGetItem, ArrayLength, ArrayUnique, Base64Encode,
// Base64Decode, Hash, JsonMerge, MathRandom, MathAdd, StringSplit, UUID), with their limits
// (nesting 10 deep, ArrayRange 1,000 items, Base64/Hash input 10,000 characters).
//
// An expression is parsed once (when the definition is parsed) and evaluated many times.
// Arguments: 'strings' (escapes \' \{ \} \\), numbers, null, true/false, paths ($..., $$...)
// and nested calls. Evaluation errors are States.IntrinsicFailure with a cause naming the
// function and the argument ("States.ArrayRange: step must not be 0"); a path argument that
// selects nothing is States.Runtime.
//
// MathRandom and UUID draw from the `Random` passed in, so a seeded execution is
// reproducible and replay after a restart gives the same values.
// Thread-safety: immutable after Parse; Evaluate is safe to call concurrently with distinct
// Random objects.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "asl/value.h"
#include "common/status.h"

namespace sluice::asl {

// A deterministic pseudo-random source (splitmix64 or similar), owned by the execution.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, 1).
  double NextDouble();
  uint64_t state() const { return state_; }

 private:
  uint64_t state_;
};

class Intrinsic {
 public:
  // True if `text` looks like an intrinsic call ("States." followed by a name and "(").
  static bool LooksLikeCall(std::string_view text);
  // Parses a call. kInvalidArgument with what is wrong and where ("States.Format: unknown
  // function 'States.Formatt'", "unterminated string at character 17").
  static Result<Intrinsic> Parse(std::string_view text);

  Intrinsic();
  ~Intrinsic();
  Intrinsic(const Intrinsic&);
  Intrinsic& operator=(const Intrinsic&);
  Intrinsic(Intrinsic&&) noexcept;
  Intrinsic& operator=(Intrinsic&&) noexcept;

  const std::string& text() const;
  EvalResult<Value> Evaluate(const Value& input, const Value& context, Random& random) const;

 private:
  struct Node;
  std::shared_ptr<const Node> root_;
};

}  // namespace sluice::asl
