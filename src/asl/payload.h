// Payload templates: Parameters, ResultSelector, ItemSelector (and Map's legacy Parameters).
//
// A template is a JSON value processed recursively through objects and arrays. A key ending
// in `.$` loses the suffix and its string value is evaluated: `$...` a path over the input,
// `$$...` a path over the context object, otherwise an intrinsic function call. Other values
// are copied as they are. A `.$` path that selects nothing fails with States.Runtime (what
// AWS reports), naming the key and the path.
//
// Compiled once at parse time. Thread-safety: immutable after Compile.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "asl/intrinsics.h"
#include "asl/path.h"
#include "asl/value.h"

namespace sluice::asl {

class PayloadTemplate {
 public:
  // Compiles `tmpl`. Every problem (bad path, bad intrinsic, `.$` value that is not a string,
  // two keys that are equal after removing `.$`) is appended to `problems` with its location
  // under `location` ("States.Run.Parameters.Command.$"); returns false if there was any.
  // A string under a plain key that looks like a path ("--id.$" inside an array, or a value
  // starting with "$." under a key without ".$") is copied literally, as AWS does, and
  // reported as a warning.
  static bool Compile(const Value& tmpl, const std::string& location, PayloadTemplate* out,
                      std::vector<Problem>* problems);

  PayloadTemplate();
  ~PayloadTemplate();
  PayloadTemplate(const PayloadTemplate&);
  PayloadTemplate& operator=(const PayloadTemplate&);
  PayloadTemplate(PayloadTemplate&&) noexcept;
  PayloadTemplate& operator=(PayloadTemplate&&) noexcept;

  EvalResult<Value> Apply(const Value& input, const Value& context, Random& random) const;

 private:
  struct Node;
  std::shared_ptr<const Node> root_;
};

}  // namespace sluice::asl
