// Checks shared by the definition parser: field readers, paths, Choice rules, Retry/Catch,
// error names, timestamps, and the whole-machine checks (names, transitions, reachability).
#include "asl/validate.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <deque>
#include <limits>
#include <unordered_map>
#include <unordered_set>

namespace sluice::asl {
namespace internal {

bool ProblemSink::HasErrors() const {
  return std::any_of(problems_.begin(), problems_.end(),
                     [](const Problem& p) { return !p.warning; });
}

std::string Loc(const std::string& base, std::string_view field) {
  if (base.empty()) return std::string(field);
  std::string out;
  out.reserve(base.size() + 1 + field.size());
  out.append(base).append(".").append(field);
  return out;
}

std::string Idx(const std::string& base, size_t index) {
  return base + "[" + std::to_string(index) + "]";
}

std::string Describe(const Value& value) {
  std::string text = value.dump(-1, ' ', false, Value::error_handler_t::replace);
  constexpr size_t kMax = 60;
  if (text.size() > kMax) text = text.substr(0, kMax - 3) + "...";
  return text;
}

std::string_view TypeName(const Value& value) {
  switch (value.type()) {
    case Value::value_t::null:
      return "null";
    case Value::value_t::boolean:
      return "a boolean";
    case Value::value_t::string:
      return "a string";
    case Value::value_t::array:
      return "an array";
    case Value::value_t::object:
      return "an object";
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned:
    case Value::value_t::number_float:
      return "a number";
    default:
      return "an unsupported value";
  }
}

const Value* Field(const Value& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

bool ReadString(const Value& value, const std::string& location, ProblemSink& sink,
                std::string* out) {
  if (!value.is_string()) {
    sink.Error(location, "must be a string, got " + Describe(value));
    return false;
  }
  *out = value.get<std::string>();
  return true;
}

bool ReadBool(const Value& value, const std::string& location, ProblemSink& sink, bool* out) {
  if (!value.is_boolean()) {
    sink.Error(location, "must be true or false, got " + Describe(value));
    return false;
  }
  *out = value.get<bool>();
  return true;
}

bool ReadInteger(const Value& value, const std::string& location, int64_t min, ProblemSink& sink,
                 int64_t* out, int64_t max) {
  std::string wanted = min == 1   ? "a positive integer"
                       : min == 0 ? "a non-negative integer"
                                  : "an integer >= " + std::to_string(min);
  bool too_large = value.is_number_unsigned() &&
                   value.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()};
  if (!value.is_number_integer() || too_large || value.get<int64_t>() < min) {
    sink.Error(location, "must be " + wanted + ", got " + Describe(value));
    return false;
  }
  if (value.get<int64_t>() > max) {
    sink.Error(location, "must be at most " + std::to_string(max) + ", got " + Describe(value));
    return false;
  }
  *out = value.get<int64_t>();
  return true;
}

std::optional<Path> CompilePath(const Value& value, const std::string& location, Path::Kind kind,
                                ProblemSink& sink, bool allow_context) {
  bool reference = kind == Path::Kind::kReferencePath;
  if (!value.is_string()) {
    sink.Error(location, std::string("must be a ") + (reference ? "reference path" : "path") +
                             " (a string starting with \"$\"), got " + Describe(value));
    return std::nullopt;
  }
  const std::string& text = value.get_ref<const std::string&>();
  Result<Path> path = Path::Parse(text, kind);
  if (!path.ok()) {
    sink.Error(location, std::string("invalid ") + (reference ? "reference path" : "path") + " \"" +
                             text + "\": " + path.status().message());
    return std::nullopt;
  }
  if (!allow_context && path->IsContext()) {
    sink.Error(location, "must not start with \"$$\": the context object cannot be written");
    return std::nullopt;
  }
  return std::move(path).value();
}

bool CompilePathOrIntrinsic(const Value& value, const std::string& location, ProblemSink& sink,
                            PathOrIntrinsic* out) {
  if (!value.is_string()) {
    sink.Error(location,
               "must be a reference path or an intrinsic function call, got " + Describe(value));
    return false;
  }
  const std::string& text = value.get_ref<const std::string&>();
  if (Intrinsic::LooksLikeCall(text)) {
    Result<Intrinsic> call = Intrinsic::Parse(text);
    if (!call.ok()) {
      sink.Error(location, "invalid intrinsic function call: " + call.status().message());
      return false;
    }
    out->intrinsic = std::move(call).value();
    return true;
  }
  if (text.empty() || text[0] != '$') {
    sink.Error(location,
               "must be a reference path (\"$.field\") or an intrinsic function "
               "call (\"States.Format(...)\"), got " +
                   Describe(value));
    return false;
  }
  out->path = CompilePath(value, location, Path::Kind::kReferencePath, sink);
  return out->path.has_value();
}

// ---------------------------------------------------------------------------------------
// Unknown fields

namespace {

// Case-insensitive edit distance, for "did you mean" suggestions.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                  std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Fields of the language this engine deliberately does not run, with the reason.
std::optional<std::string> RefusedFieldReason(std::string_view key) {
  if (key == "Assign") return "variables (Assign) are not supported by this engine";
  static constexpr std::array<std::string_view, 4> kJsonata = {"Arguments", "Output", "Items",
                                                               "Condition"};
  if (std::find(kJsonata.begin(), kJsonata.end(), key) != kJsonata.end()) {
    return "a JSONata field; this engine runs JSONPath state machines only";
  }
  return std::nullopt;
}

}  // namespace

void CheckKnownFields(const Value& object, std::span<const std::string_view> allowed,
                      const std::string& location, std::string_view what, ProblemSink& sink) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& key = it.key();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    if (auto reason = RefusedFieldReason(key)) {
      sink.Error(Loc(location, key), *reason);
      continue;
    }
    std::string message = "field not allowed in " + std::string(what);
    size_t best = std::numeric_limits<size_t>::max();
    std::string_view suggestion;
    for (std::string_view candidate : allowed) {
      size_t d = EditDistance(key, candidate);
      if (d < best) best = d, suggestion = candidate;
    }
    size_t limit = key.size() >= 6 ? 2 : 1;
    if (!suggestion.empty() && best <= limit) {
      message += " (did you mean \"" + std::string(suggestion) + "\"?)";
    }
    sink.Error(Loc(location, key), message);
  }
}

// ---------------------------------------------------------------------------------------
// Error names, Retry, Catch

namespace {

constexpr std::array<std::string_view, 17> kPredefinedErrors = {
    "States.ALL",
    "States.TaskFailed",
    "States.Timeout",
    "States.HeartbeatTimeout",
    "States.Runtime",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.ResultPathMatchFailure",
    "States.IntrinsicFailure",
    "States.BranchFailed",
    "States.ExceedToleratedFailureThreshold",
    "States.ItemReaderFailed",
    "States.ResultWriterFailed",
    "States.Permissions",
    "States.DataLimitExceeded",
    "States.QueryEvaluationError",
    "States.Http.Socket",
};

// Reports a name that uses the reserved "States." prefix without being predefined.
bool CheckReservedPrefix(const std::string& name, const std::string& location, ProblemSink& sink) {
  if (name.rfind("States.", 0) != 0) return true;
  if (std::find(kPredefinedErrors.begin(), kPredefinedErrors.end(), name) !=
      kPredefinedErrors.end()) {
    return true;
  }
  sink.Error(location, "unknown predefined error \"" + name +
                           "\": names starting with \"States.\" are reserved");
  return false;
}

// ErrorEquals of one retrier or catcher; `kind` is "retrier" or "catcher".
void ParseErrorEquals(const Value& entry, const std::string& location, bool last,
                      std::string_view kind, ProblemSink& sink, std::vector<std::string>* out) {
  std::string here = Loc(location, "ErrorEquals");
  const Value* list = Field(entry, "ErrorEquals");
  if (list == nullptr) {
    sink.Error(here, "required field is missing");
    return;
  }
  if (!list->is_array() || list->empty()) {
    sink.Error(here, "must be a non-empty array of error names, got " + Describe(*list));
    return;
  }
  bool has_all = false;
  for (size_t i = 0; i < list->size(); ++i) {
    std::string name;
    if (!ReadString((*list)[i], Idx(here, i), sink, &name)) continue;
    if (name.empty()) {
      sink.Error(Idx(here, i), "error name must not be empty");
      continue;
    }
    if (!CheckReservedPrefix(name, Idx(here, i), sink)) continue;
    if (name == errors::kAll) has_all = true;
    if (IsUncatchable(name)) {
      sink.Warning(Idx(here, i),
                   name + (kind == "retrier" ? " is never retried" : " can never be caught"));
    }
    out->push_back(std::move(name));
  }
  if (has_all && list->size() > 1) {
    sink.Error(here, "States.ALL must be the only error name in its ErrorEquals");
  }
  if (has_all && !last) {
    sink.Error(here, "States.ALL must be in the last " + std::string(kind));
  }
}

constexpr std::array<std::string_view, 7> kRetrierFields = {
    "ErrorEquals",     "IntervalSeconds", "MaxAttempts", "BackoffRate",
    "MaxDelaySeconds", "JitterStrategy",  "Comment"};
constexpr std::array<std::string_view, 4> kCatcherFields = {"ErrorEquals", "Next", "ResultPath",
                                                            "Comment"};

}  // namespace

void CheckErrorName(const std::string& name, const std::string& location, ProblemSink& sink) {
  if (name == errors::kAll) {
    sink.Error(location, "States.ALL is a wildcard for Retry and Catch, not an error name");
    return;
  }
  CheckReservedPrefix(name, location, sink);
}

void ParseRetry(const Value& value, const std::string& location, ProblemSink& sink,
                std::vector<Retrier>* out) {
  if (!value.is_array()) {
    sink.Error(location, "must be an array of retriers, got " + Describe(value));
    return;
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const Value& entry = value[i];
    std::string here = Idx(location, i);
    if (!entry.is_object()) {
      sink.Error(here, "a retrier must be an object, got " + Describe(entry));
      continue;
    }
    CheckKnownFields(entry, kRetrierFields, here, "a retrier", sink);
    Retrier retrier;
    ParseErrorEquals(entry, here, i + 1 == value.size(), "retrier", sink, &retrier.error_equals);
    int64_t number = 0;
    if (const Value* v = Field(entry, "IntervalSeconds")) {
      if (ReadInteger(*v, Loc(here, "IntervalSeconds"), 1, sink, &number, kMaxSeconds)) {
        retrier.interval_seconds = static_cast<double>(number);
      }
    }
    if (const Value* v = Field(entry, "MaxAttempts")) {
      if (ReadInteger(*v, Loc(here, "MaxAttempts"), 0, sink, &number, kMaxSeconds)) {
        retrier.max_attempts = static_cast<int>(number);
      }
    }
    if (const Value* v = Field(entry, "BackoffRate")) {
      if (!v->is_number() || v->get<double>() < 1.0) {
        sink.Error(Loc(here, "BackoffRate"), "must be >= 1.0, got " + Describe(*v));
      } else {
        retrier.backoff_rate = v->get<double>();
      }
    }
    if (const Value* v = Field(entry, "MaxDelaySeconds")) {
      if (ReadInteger(*v, Loc(here, "MaxDelaySeconds"), 1, sink, &number, kMaxDelaySeconds)) {
        retrier.max_delay_seconds = static_cast<double>(number);
      }
    }
    if (const Value* v = Field(entry, "JitterStrategy")) {
      if (v->is_string() && (*v == "FULL" || *v == "NONE")) {
        retrier.jitter_full = *v == "FULL";
      } else {
        sink.Error(Loc(here, "JitterStrategy"),
                   "must be \"FULL\" or \"NONE\", got " + Describe(*v));
      }
    }
    out->push_back(std::move(retrier));
  }
}

void ParseCatch(const Value& value, const std::string& location, ProblemSink& sink,
                std::vector<Catcher>* out) {
  if (!value.is_array()) {
    sink.Error(location, "must be an array of catchers, got " + Describe(value));
    return;
  }
  for (size_t i = 0; i < value.size(); ++i) {
    const Value& entry = value[i];
    std::string here = Idx(location, i);
    if (!entry.is_object()) {
      sink.Error(here, "a catcher must be an object, got " + Describe(entry));
      continue;
    }
    CheckKnownFields(entry, kCatcherFields, here, "a catcher", sink);
    Catcher catcher;
    ParseErrorEquals(entry, here, i + 1 == value.size(), "catcher", sink, &catcher.error_equals);
    if (const Value* next = Field(entry, "Next")) {
      if (ReadString(*next, Loc(here, "Next"), sink, &catcher.next) && catcher.next.empty()) {
        sink.Error(Loc(here, "Next"), "must name a state");
      }
    } else {
      sink.Error(Loc(here, "Next"), "required field is missing");
    }
    if (const Value* path = Field(entry, "ResultPath")) {
      if (path->is_null()) {
        catcher.result_path.kind = OptionalPath::Kind::kNull;
      } else if (auto compiled = CompilePath(*path, Loc(here, "ResultPath"),
                                             Path::Kind::kReferencePath, sink, false)) {
        catcher.result_path.kind = OptionalPath::Kind::kSet;
        catcher.result_path.path = std::move(*compiled);
      }
    }
    out->push_back(std::move(catcher));
  }
}

// ---------------------------------------------------------------------------------------
// Choice rules

namespace {

enum class Operand { kString, kPattern, kNumber, kBool, kTimestamp, kIsCheck };

struct OperatorSpec {
  std::string_view name;
  ChoiceRule::Op op;
  Operand operand;
  bool path;
};

using Op = ChoiceRule::Op;
constexpr std::array<OperatorSpec, 39> kOperators = {{
    {"StringEquals", Op::kStringEquals, Operand::kString, false},
    {"StringEqualsPath", Op::kStringEquals, Operand::kString, true},
    {"StringLessThan", Op::kStringLessThan, Operand::kString, false},
    {"StringLessThanPath", Op::kStringLessThan, Operand::kString, true},
    {"StringGreaterThan", Op::kStringGreaterThan, Operand::kString, false},
    {"StringGreaterThanPath", Op::kStringGreaterThan, Operand::kString, true},
    {"StringLessThanEquals", Op::kStringLessThanEquals, Operand::kString, false},
    {"StringLessThanEqualsPath", Op::kStringLessThanEquals, Operand::kString, true},
    {"StringGreaterThanEquals", Op::kStringGreaterThanEquals, Operand::kString, false},
    {"StringGreaterThanEqualsPath", Op::kStringGreaterThanEquals, Operand::kString, true},
    {"StringMatches", Op::kStringMatches, Operand::kPattern, false},
    {"NumericEquals", Op::kNumericEquals, Operand::kNumber, false},
    {"NumericEqualsPath", Op::kNumericEquals, Operand::kNumber, true},
    {"NumericLessThan", Op::kNumericLessThan, Operand::kNumber, false},
    {"NumericLessThanPath", Op::kNumericLessThan, Operand::kNumber, true},
    {"NumericGreaterThan", Op::kNumericGreaterThan, Operand::kNumber, false},
    {"NumericGreaterThanPath", Op::kNumericGreaterThan, Operand::kNumber, true},
    {"NumericLessThanEquals", Op::kNumericLessThanEquals, Operand::kNumber, false},
    {"NumericLessThanEqualsPath", Op::kNumericLessThanEquals, Operand::kNumber, true},
    {"NumericGreaterThanEquals", Op::kNumericGreaterThanEquals, Operand::kNumber, false},
    {"NumericGreaterThanEqualsPath", Op::kNumericGreaterThanEquals, Operand::kNumber, true},
    {"BooleanEquals", Op::kBooleanEquals, Operand::kBool, false},
    {"BooleanEqualsPath", Op::kBooleanEquals, Operand::kBool, true},
    {"TimestampEquals", Op::kTimestampEquals, Operand::kTimestamp, false},
    {"TimestampEqualsPath", Op::kTimestampEquals, Operand::kTimestamp, true},
    {"TimestampLessThan", Op::kTimestampLessThan, Operand::kTimestamp, false},
    {"TimestampLessThanPath", Op::kTimestampLessThan, Operand::kTimestamp, true},
    {"TimestampGreaterThan", Op::kTimestampGreaterThan, Operand::kTimestamp, false},
    {"TimestampGreaterThanPath", Op::kTimestampGreaterThan, Operand::kTimestamp, true},
    {"TimestampLessThanEquals", Op::kTimestampLessThanEquals, Operand::kTimestamp, false},
    {"TimestampLessThanEqualsPath", Op::kTimestampLessThanEquals, Operand::kTimestamp, true},
    {"TimestampGreaterThanEquals", Op::kTimestampGreaterThanEquals, Operand::kTimestamp, false},
    {"TimestampGreaterThanEqualsPath", Op::kTimestampGreaterThanEquals, Operand::kTimestamp, true},
    {"IsNull", Op::kIsNull, Operand::kIsCheck, false},
    {"IsPresent", Op::kIsPresent, Operand::kIsCheck, false},
    {"IsNumeric", Op::kIsNumeric, Operand::kIsCheck, false},
    {"IsString", Op::kIsString, Operand::kIsCheck, false},
    {"IsBoolean", Op::kIsBoolean, Operand::kIsCheck, false},
    {"IsTimestamp", Op::kIsTimestamp, Operand::kIsCheck, false},
}};

// Every field a rule may carry: the operators plus And/Or/Not/Variable/Next/Comment.
const std::vector<std::string_view>& RuleFields() {
  static const std::vector<std::string_view> fields = [] {
    std::vector<std::string_view> out;
    for (const OperatorSpec& spec : kOperators) out.push_back(spec.name);
    for (std::string_view f : {"And", "Or", "Not", "Variable", "Next", "Comment"}) {
      out.push_back(f);
    }
    return out;
  }();
  return fields;
}

const OperatorSpec* FindOperator(std::string_view key) {
  for (const OperatorSpec& spec : kOperators) {
    if (spec.name == key) return &spec;
  }
  return nullptr;
}

// StringMatches: `*` is the wildcard, `\*` and `\\` escapes; any other backslash is an error.
bool ValidPattern(std::string_view pattern) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '\\') continue;
    if (i + 1 >= pattern.size() || (pattern[i + 1] != '*' && pattern[i + 1] != '\\')) {
      return false;
    }
    ++i;
  }
  return true;
}

// Checks the literal operand of a data-test rule; reports at `location`.
bool CheckOperand(const OperatorSpec& spec, const Value& v, const std::string& location,
                  ProblemSink& sink) {
  switch (spec.operand) {
    case Operand::kString:
      if (v.is_string()) return true;
      sink.Error(location, "must be a string, got " + Describe(v));
      return false;
    case Operand::kPattern:
      if (!v.is_string()) {
        sink.Error(location, "must be a string, got " + Describe(v));
        return false;
      }
      if (!ValidPattern(v.get_ref<const std::string&>())) {
        sink.Error(location, "a backslash must be followed by * or \\, got " + Describe(v));
        return false;
      }
      return true;
    case Operand::kNumber:
      if (v.is_number()) return true;
      sink.Error(location, "must be a number, got " + Describe(v));
      return false;
    case Operand::kBool:
    case Operand::kIsCheck:
      if (v.is_boolean()) return true;
      sink.Error(location, "must be true or false, got " + Describe(v));
      return false;
    case Operand::kTimestamp:
      if (v.is_string() && ParseTimestamp(v.get_ref<const std::string&>())) return true;
      sink.Error(location,
                 "must be an RFC 3339 timestamp such as \"2016-03-14T01:59:00Z\", "
                 "got " +
                     Describe(v));
      return false;
  }
  return false;
}

void ParseRule(const Value& value, const std::string& location, bool top_level, ProblemSink& sink,
               ChoiceRule* out);

void ParseBooleanRule(const Value& rule, std::string_view key, const std::string& location,
                      ProblemSink& sink, ChoiceRule* out) {
  const Value& operand = rule.at(key);
  std::string here = Loc(location, key);
  if (key == "Not") {
    out->op = Op::kNot;
    out->children.emplace_back();
    ParseRule(operand, here, false, sink, &out->children.back());
    return;
  }
  out->op = key == "And" ? Op::kAnd : Op::kOr;
  if (!operand.is_array() || operand.empty()) {
    sink.Error(here, "must be a non-empty array of rules, got " + Describe(operand));
    return;
  }
  out->children.resize(operand.size());
  for (size_t i = 0; i < operand.size(); ++i) {
    ParseRule(operand[i], Idx(here, i), false, sink, &out->children[i]);
  }
}

void ParseRule(const Value& value, const std::string& location, bool top_level, ProblemSink& sink,
               ChoiceRule* out) {
  if (!value.is_object()) {
    sink.Error(location, "a Choice rule must be an object, got " + Describe(value));
    return;
  }
  CheckKnownFields(value, RuleFields(), location, "a Choice rule", sink);
  std::vector<std::string_view> operators;  // in document order
  for (auto it = value.begin(); it != value.end(); ++it) {
    const std::string& key = it.key();
    if (key == "And" || key == "Or" || key == "Not" || FindOperator(key)) {
      operators.push_back(key);
    }
  }
  if (operators.empty()) {
    sink.Error(location,
               "no comparison operator: a rule needs And, Or, Not, or one "
               "operator such as StringEquals with a Variable");
  } else if (operators.size() > 1) {
    std::string list;
    for (std::string_view name : operators) list += (list.empty() ? "" : ", ") + std::string(name);
    sink.Error(location, "more than one comparison operator (" + list +
                             "); use And/Or to "
                             "combine tests");
  }

  bool is_boolean = !operators.empty() &&
                    (operators[0] == "And" || operators[0] == "Or" || operators[0] == "Not");
  const Value* variable = Field(value, "Variable");
  if (is_boolean) {
    if (variable != nullptr) {
      sink.Error(Loc(location, "Variable"),
                 "not allowed in an " + std::string(operators[0]) + " rule");
    }
    ParseBooleanRule(value, operators[0], location, sink, out);
  } else if (!operators.empty()) {
    if (variable == nullptr) {
      sink.Error(Loc(location, "Variable"), "required field is missing");
    } else if (auto path =
                   CompilePath(*variable, Loc(location, "Variable"), Path::Kind::kPath, sink)) {
      out->variable = std::move(*path);
    }
    // Every operator present is checked, so a rule with two gets both reported.
    for (size_t i = 0; i < operators.size(); ++i) {
      const OperatorSpec* spec = FindOperator(operators[i]);
      if (spec == nullptr) continue;  // And/Or/Not mixed with data tests: reported above
      const Value& operand = value.at(spec->name);
      std::string here = Loc(location, spec->name);
      if (spec->path) {
        auto path = CompilePath(operand, here, Path::Kind::kPath, sink);
        if (i == 0 && path) out->operand_path = std::move(*path);
      } else if (CheckOperand(*spec, operand, here, sink) && i == 0) {
        out->operand = operand;
      }
      if (i == 0) {
        out->op = spec->op;
        out->operand_is_path = spec->path;
      }
    }
  }

  const Value* next = Field(value, "Next");
  if (top_level) {
    if (next == nullptr) {
      sink.Error(Loc(location, "Next"), "required field is missing");
    } else if (ReadString(*next, Loc(location, "Next"), sink, &out->next) && out->next.empty()) {
      sink.Error(Loc(location, "Next"), "must name a state");
    }
  } else if (next != nullptr) {
    sink.Error(Loc(location, "Next"),
               "not allowed in a nested rule (only the top-level "
               "rules of Choices transition)");
  }
}

}  // namespace

void ParseChoices(const Value& value, const std::string& location, ProblemSink& sink,
                  std::vector<ChoiceRule>* out) {
  if (!value.is_array() || value.empty()) {
    sink.Error(location, "must be a non-empty array of rules, got " + Describe(value));
    return;
  }
  out->resize(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    ParseRule(value[i], Idx(location, i), true, sink, &(*out)[i]);
  }
}

// ---------------------------------------------------------------------------------------
// Names, transitions, reachability

namespace {

size_t CodePoints(std::string_view text) {
  return std::count_if(text.begin(), text.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

using NameTable = std::unordered_map<std::string, std::string>;  // name -> location

void CollectNames(const StateMachine& machine, NameTable& seen, ProblemSink& sink) {
  constexpr size_t kMaxNameLength = 80;
  for (const auto& state : machine.states) {
    if (state->name.empty()) {
      sink.Error(state->location, "a state name must not be empty");
    } else if (size_t n = CodePoints(state->name); n > kMaxNameLength) {
      sink.Error(state->location,
                 "state name is " + std::to_string(n) + " characters long; the limit is 80");
    }
    auto [it, inserted] = seen.emplace(state->name, state->location);
    if (!inserted) {
      sink.Error(state->location, "state name \"" + state->name + "\" is already used at " +
                                      it->second +
                                      "; names must be unique across the whole machine");
    }
    for (const auto& branch : state->branches) CollectNames(*branch, seen, sink);
    if (state->processor) CollectNames(*state->processor, seen, sink);
  }
}

void CheckTarget(const StateMachine& block, const std::string& target, const std::string& location,
                 const NameTable& all, ProblemSink& sink) {
  if (target.empty() || block.Find(target) != nullptr) return;
  auto it = all.find(target);
  if (it == all.end()) {
    sink.Error(location, "no state named \"" + target + "\"");
  } else {
    sink.Error(location, "state \"" + target + "\" is in another States block (" + it->second +
                             "); transitions cannot leave or enter a Parallel "
                             "branch or Map processor");
  }
}

// Where a States block sits: "" for the machine, "States.P.Branches[0]" for a branch.
std::string BlockLocation(const StateMachine& block) {
  const State& first = *block.states.front();
  std::string suffix = "States." + first.name;
  std::string location = first.location.substr(0, first.location.size() - suffix.size());
  if (!location.empty() && location.back() == '.') location.pop_back();
  return location;
}

template <typename Fn>
void ForEachTarget(const State& state, Fn&& fn) {
  if (!state.next.empty()) fn(state.next, Loc(state.location, "Next"));
  for (size_t i = 0; i < state.choices.size(); ++i) {
    fn(state.choices[i].next, Loc(Idx(Loc(state.location, "Choices"), i), "Next"));
  }
  if (!state.default_next.empty()) fn(state.default_next, Loc(state.location, "Default"));
  for (size_t i = 0; i < state.catchers.size(); ++i) {
    fn(state.catchers[i].next, Loc(Idx(Loc(state.location, "Catch"), i), "Next"));
  }
}

void CheckBlock(const StateMachine& block, const NameTable& all, ProblemSink& sink) {
  if (block.states.empty()) return;
  std::string location = BlockLocation(block);
  if (!block.start_at.empty()) {
    CheckTarget(block, block.start_at, Loc(location, "StartAt"), all, sink);
  }
  for (const auto& state : block.states) {
    ForEachTarget(*state, [&](const std::string& target, const std::string& where) {
      CheckTarget(block, target, where, all, sink);
    });
  }
  if (const State* start = block.start()) {
    std::unordered_set<const State*> reached = {start};
    std::deque<const State*> queue = {start};
    while (!queue.empty()) {
      const State* state = queue.front();
      queue.pop_front();
      ForEachTarget(*state, [&](const std::string& target, const std::string&) {
        const State* to = block.Find(target);
        if (to != nullptr && reached.insert(to).second) queue.push_back(to);
      });
    }
    for (const auto& state : block.states) {
      if (!reached.contains(state.get())) {
        sink.Warning(state->location, "unreachable: no transition leads to this state");
      }
    }
  }
  for (const auto& state : block.states) {
    for (const auto& branch : state->branches) CheckBlock(*branch, all, sink);
    if (state->processor) CheckBlock(*state->processor, all, sink);
  }
}

}  // namespace

void CheckMachine(const StateMachine& root, ProblemSink& sink) {
  NameTable names;
  CollectNames(root, names, sink);
  CheckBlock(root, names, sink);
}

}  // namespace internal

// ---------------------------------------------------------------------------------------
// Timestamps

namespace {

bool Digits(std::string_view text, size_t pos, size_t count, int* out) {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  *out = value;
  return true;
}

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

std::optional<Instant> ParseTimestamp(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(text, 0, 4, &year) || text.size() < 20 || text[4] != '-' ||
      !Digits(text, 5, 2, &month) || text[7] != '-' || !Digits(text, 8, 2, &day) ||
      text[10] != 'T' || !Digits(text, 11, 2, &hour) || text[13] != ':' ||
      !Digits(text, 14, 2, &minute) || text[16] != ':' || !Digits(text, 17, 2, &second)) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t nanos = 0;
  if (text[pos] == '.') {
    size_t digits = 0;
    for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, ++digits) {
      if (digits < 9) nanos = nanos * 10 + (text[pos] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 9; ++digits) nanos *= 10;
  }
  if (pos >= text.size()) return std::nullopt;
  int offset_seconds = 0;
  if (text[pos] == 'Z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int oh = 0, om = 0;
    if (!Digits(text, pos + 1, 2, &oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !Digits(text, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_seconds = (text[pos] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  Instant instant;
  instant.seconds =
      DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  instant.nanos = static_cast<int32_t>(nanos);
  return instant;
}

}  // namespace sluice::asl
