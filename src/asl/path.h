// JSONPath for ASL (JSONPath query language mode): Paths, Reference Paths, and the
// ResultPath merge.
//
// A Path starts with `$` and follows Jayway JsonPath: `$.a.b`, `$['a']`, `$.a[0]`, `$[*]`,
// `$..x`, `$.a[1:3]`, `$.a[?(@.x == 1)]`, unions `$.a[0,2]`. A path starting with `$$`
// applies to the context object. A *definite* path selects one node and evaluates to it; an
// *indefinite* one (wildcard, deep scan, slice, filter, index union) always evaluates to an
// array of the matches, even with zero or one match (the Jayway rule AWS follows).
// As in Jayway, a union of names as the last step (`$['a','b']`) is not indefinite: it
// selects one object made of the named members that exist.
// Filters: `[?(expr)]` with `@`/`$` paths, 'string'/"string", number, true, false and null
// literals, `== != < <= > >=`, `&&`, `||`, `!`, parentheses, and `[?(@.x)]` for existence.
// On an array a filter keeps the matching elements; on an object it tests the object itself.
// A Reference Path can select only one node: no `@ , : ?`, no `*` and no `..`.
// Workflow variables (`$name`) are not supported and refused by Parse.
//
// Paths are compiled once when the definition is parsed and evaluated many times.
// Thread-safety: immutable after Parse; Evaluate is safe to call concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "asl/value.h"
#include "common/status.h"

namespace sluice::asl {

class Path {
 public:
  enum class Kind { kPath, kReferencePath };

  // Compiles `text`. kInvalidArgument with what is wrong and at which character
  // ("unterminated bracket at character 5"). With kReferencePath, anything a Reference
  // Path may not contain is refused.
  static Result<Path> Parse(std::string_view text, Kind kind = Kind::kPath);

  Path();  // the path "$"
  ~Path();
  Path(const Path&);
  Path& operator=(const Path&);
  Path(Path&&) noexcept;
  Path& operator=(Path&&) noexcept;

  const std::string& text() const;
  bool IsContext() const;     // starts with "$$"
  bool IsDefinite() const;    // selects at most one node
  bool IsRoot() const;        // exactly "$" (or "$$")

  // Evaluates over `input` (or over `context` for a `$$` path). A definite path that
  // selects nothing fails with States.Runtime and a cause naming the path
  // ("The JSONPath '$.a.b' could not be found in the input '{...}'"); an indefinite one
  // returns an empty array.
  EvalResult<Value> Evaluate(const Value& input, const Value& context) const;

  // True if a definite path selects a node (Choice IsPresent), or an indefinite one selects
  // at least one. Never an error.
  bool Exists(const Value& input, const Value& context) const;

  // Fast path without a copy: for a path made only of names and indexes, the selected node
  // itself (inside `input` or `context`). nullptr if it selects nothing, or if the path is
  // of another kind (indefinite, name union). On nullptr call Evaluate, which gives the
  // value or the proper error:
  //   const Value* v = path.Select(in, ctx);  if (!v) { auto r = path.Evaluate(in, ctx); ...}
  const Value* Select(const Value& input, const Value& context) const;

 private:
  friend EvalResult<Value> ApplyResultPath(const Path& path, Value raw_input, Value result);
  struct Compiled;
  std::shared_ptr<const Compiled> compiled_;  // shared: paths are copied with definitions
};

// The States.Runtime cause for a definite path that selects nothing, as AWS words it:
// "The JSONPath '$.a' specified for the field 'x.$' could not be found in the input '{...}'"
// (without the "specified for the field" part when `field` is empty). The input is shown
// as compact JSON cut to kMaxJsonInMessage bytes.
std::string PathNotFoundCause(std::string_view path, std::string_view field, const Value& input);

// ResultPath: puts `result` into `raw_input` at the reference path `path` (not a `$$`
// path). "$" replaces everything. Missing intermediate objects are created; if an
// intermediate node exists and is not an object (or an array index is out of range), fails
// with States.ResultPathMatchFailure.
EvalResult<Value> ApplyResultPath(const Path& path, Value raw_input, Value result);

}  // namespace sluice::asl
