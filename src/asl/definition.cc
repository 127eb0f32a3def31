// ParseDefinition: JSON text -> Definition, with every problem reported at its location.
// This file reads the structure (machine, States blocks, each state type's fields);
// validate.cc holds the shared checks (Choice rules, Retry/Catch, names, transitions).
#include "asl/definition.h"

#include <algorithm>
#include <array>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <unordered_set>

#include "asl/validate.h"

namespace sluice::asl {

std::string_view StateTypeName(StateType type) {
  switch (type) {
    case StateType::kPass:
      return "Pass";
    case StateType::kTask:
      return "Task";
    case StateType::kChoice:
      return "Choice";
    case StateType::kWait:
      return "Wait";
    case StateType::kSucceed:
      return "Succeed";
    case StateType::kFail:
      return "Fail";
    case StateType::kParallel:
      return "Parallel";
    case StateType::kMap:
      return "Map";
  }
  return "Unknown";
}

namespace {

using internal::CheckKnownFields;
using internal::CompilePath;
using internal::Describe;
using internal::Field;
using internal::Idx;
using internal::Loc;
using internal::ProblemSink;
using internal::ReadBool;
using internal::ReadInteger;
using internal::ReadString;

// ---------------------------------------------------------------------------------------
// JSON text

// Deeper JSON is refused before the (recursive) model building sees it. Real definitions
// stay far below: each nested Parallel or Map adds about five levels.
constexpr size_t kMaxJsonDepth = 256;

// Watches the parse: notes keys that appear twice in one object (nlohmann keeps only the
// last, which would silently drop a state or a field the author wrote) and where the
// nesting first goes deeper than kMaxJsonDepth.
class JsonWatcher {
 public:
  bool operator()(int /*depth*/, Value::parse_event_t event, Value& parsed) {
    switch (event) {
      case Value::parse_event_t::object_start:
      case Value::parse_event_t::array_start:
        if (frames_.size() == kMaxJsonDepth && !too_deep_at_) {
          too_deep_at_ = Location();  // where the value that is one level too deep sits
        }
        frames_.push_back({event == Value::parse_event_t::array_start, 0, {}, {}});
        break;
      case Value::parse_event_t::key: {
        Frame& top = frames_.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second) duplicates_.push_back(Location());
        break;
      }
      case Value::parse_event_t::object_end:
      case Value::parse_event_t::array_end:
        frames_.pop_back();
        ElementDone();
        break;
      case Value::parse_event_t::value:
        ElementDone();
        break;
    }
    return true;
  }
  const std::vector<std::string>& duplicates() const { return duplicates_; }
  // Where the nesting first went deeper than kMaxJsonDepth, if it did.
  const std::optional<std::string>& too_deep_at() const { return too_deep_at_; }

 private:
  struct Frame {
    bool is_array;
    size_t index;
    std::string key;
    std::unordered_set<std::string> keys;
  };
  void ElementDone() {
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().index;
  }
  std::string Location() const {
    std::string location;
    for (const Frame& frame : frames_) {
      location = frame.is_array ? Idx(location, frame.index) : Loc(location, frame.key);
    }
    return location;
  }
  std::vector<Frame> frames_;
  std::vector<std::string> duplicates_;
  std::optional<std::string> too_deep_at_;
};

bool ParseJson(std::string_view text, Value* out, ProblemSink& sink) {
  JsonWatcher watcher;
  try {
    *out = Value::parse(text.begin(), text.end(), std::ref(watcher));
  } catch (const Value::parse_error& e) {
    std::string what = e.what();
    if (size_t end = what.find("] "); end != std::string::npos) what = what.substr(end + 2);
    sink.Error("", "not valid JSON (byte " + std::to_string(e.byte) + "): " + what);
    return false;
  } catch (const std::exception& e) {
    sink.Error("", std::string("not valid JSON: ") + e.what());
    return false;
  }
  if (watcher.too_deep_at()) {
    sink.Error(*watcher.too_deep_at(),
               "JSON nested more than " + std::to_string(kMaxJsonDepth) + " levels deep");
    return false;
  }
  for (const std::string& location : watcher.duplicates()) {
    sink.Error(location, "key appears more than once in its object; only the last would be used");
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Fields per state type

// clang-format off
constexpr std::array<std::string_view, 6> kMachineFields = {
    "Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"};
constexpr std::array<std::string_view, 3> kBranchFields = {"StartAt", "States", "Comment"};
constexpr std::array<std::string_view, 4> kProcessorFields = {
    "StartAt", "States", "Comment", "ProcessorConfig"};
constexpr std::array<std::string_view, 2> kProcessorConfigFields = {"Mode", "ExecutionType"};

constexpr std::array<std::string_view, 10> kPassFields = {
    "Type", "Comment", "QueryLanguage", "Next", "End",
    "InputPath", "OutputPath", "ResultPath", "Parameters", "Result"};
constexpr std::array<std::string_view, 18> kTaskFields = {
    "Type", "Comment", "QueryLanguage", "Next", "End",
    "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch",
    "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds",
    "HeartbeatSecondsPath", "Credentials"};
constexpr std::array<std::string_view, 7> kChoiceFields = {
    "Type", "Comment", "QueryLanguage", "InputPath", "OutputPath", "Choices", "Default"};
constexpr std::array<std::string_view, 11> kWaitFields = {
    "Type", "Comment", "QueryLanguage", "Next", "End", "InputPath", "OutputPath",
    "Seconds", "SecondsPath", "Timestamp", "TimestampPath"};
constexpr std::array<std::string_view, 5> kSucceedFields = {
    "Type", "Comment", "QueryLanguage", "InputPath", "OutputPath"};
constexpr std::array<std::string_view, 7> kFailFields = {
    "Type", "Comment", "QueryLanguage", "Error", "ErrorPath", "Cause", "CausePath"};
constexpr std::array<std::string_view, 13> kParallelFields = {
    "Type", "Comment", "QueryLanguage", "Next", "End",
    "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch",
    "Branches"};
// The last four are distributed-Map fields, accepted here only to be refused with a reason.
constexpr std::array<std::string_view, 26> kMapFields = {
    "Type", "Comment", "QueryLanguage", "Next", "End",
    "InputPath", "OutputPath", "ResultPath", "ResultSelector", "Retry", "Catch",
    "ItemProcessor", "Iterator", "ItemsPath", "ItemSelector", "Parameters",
    "MaxConcurrency", "MaxConcurrencyPath",
    "ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
    "ToleratedFailureCount", "ToleratedFailureCountPath",
    "ItemReader", "ResultWriter", "ItemBatcher", "Label"};
// clang-format on

std::span<const std::string_view> FieldsOf(StateType type) {
  switch (type) {
    case StateType::kPass:
      return kPassFields;
    case StateType::kTask:
      return kTaskFields;
    case StateType::kChoice:
      return kChoiceFields;
    case StateType::kWait:
      return kWaitFields;
    case StateType::kSucceed:
      return kSucceedFields;
    case StateType::kFail:
      return kFailFields;
    case StateType::kParallel:
      return kParallelFields;
    case StateType::kMap:
      return kMapFields;
  }
  return {};
}

std::optional<StateType> ParseStateType(std::string_view name) {
  for (StateType type :
       {StateType::kPass, StateType::kTask, StateType::kChoice, StateType::kWait,
        StateType::kSucceed, StateType::kFail, StateType::kParallel, StateType::kMap}) {
    if (StateTypeName(type) == name) return type;
  }
  return std::nullopt;
}

// QueryLanguage on the machine or a state: "JSONPath" only. Returns false if refused.
bool CheckQueryLanguage(const Value& object, const std::string& location, ProblemSink& sink) {
  const Value* language = Field(object, "QueryLanguage");
  if (language == nullptr || *language == "JSONPath") return true;
  std::string here = Loc(location, "QueryLanguage");
  if (*language == "JSONata") {
    sink.Error(here,
               "JSONata state machines are not supported by this engine; use "
               "\"JSONPath\" (the default)");
  } else {
    sink.Error(here, "must be \"JSONPath\" or \"JSONata\", got " + Describe(*language));
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// The parser

class Parser {
 public:
  explicit Parser(ProblemSink& sink) : sink_(sink) {}

  void ParseMachine(const Value& doc, Definition* definition) {
    if (!doc.is_object()) {
      sink_.Error("", "a state machine definition must be a JSON object, got " + Describe(doc));
      return;
    }
    // A JSONata machine would only produce a flood of unrelated field errors.
    if (!CheckQueryLanguage(doc, "", sink_)) return;
    CheckKnownFields(doc, kMachineFields, "", "a state machine", sink_);
    if (const Value* comment = Field(doc, "Comment")) {
      ReadString(*comment, "Comment", sink_, &definition->comment);
    }
    if (const Value* version = Field(doc, "Version")) {
      ReadString(*version, "Version", sink_, &definition->version);
    }
    if (const Value* timeout = Field(doc, "TimeoutSeconds")) {
      int64_t seconds = 0;
      if (ReadInteger(*timeout, "TimeoutSeconds", 1, sink_, &seconds)) {
        definition->timeout_seconds = seconds;
      }
    }
    ParseBlock(doc, "", &definition->machine);
  }

 private:
  // StartAt + States of the machine, a branch or a Map processor at `location`.
  void ParseBlock(const Value& object, const std::string& location, StateMachine* machine) {
    std::string start_location = Loc(location, "StartAt");
    if (const Value* start = Field(object, "StartAt")) {
      if (ReadString(*start, start_location, sink_, &machine->start_at) &&
          machine->start_at.empty()) {
        sink_.Error(start_location, "must name a state");
      }
    } else {
      sink_.Error(start_location, "required field is missing");
    }
    std::string states_location = Loc(location, "States");
    const Value* states = Field(object, "States");
    if (states == nullptr) {
      sink_.Error(states_location, "required field is missing");
      return;
    }
    if (!states->is_object() || states->empty()) {
      sink_.Error(states_location,
                  "must be an object holding at least one state, got " + Describe(*states));
      return;
    }
    machine->states.reserve(states->size());
    for (auto it = states->begin(); it != states->end(); ++it) {
      auto state = std::make_unique<State>();
      state->name = it.key();
      state->location = Loc(states_location, it.key());
      ParseState(it.value(), state.get());
      machine->by_name.emplace(state->name, state.get());
      machine->states.push_back(std::move(state));
    }
  }

  void ParseState(const Value& object, State* state) {
    const std::string& location = state->location;
    if (!object.is_object()) {
      sink_.Error(location, "a state must be a JSON object, got " + Describe(object));
      return;
    }
    const Value* type_value = Field(object, "Type");
    if (type_value == nullptr) {
      sink_.Error(Loc(location, "Type"), "required field is missing");
      return;
    }
    std::optional<StateType> type;
    if (type_value->is_string()) type = ParseStateType(type_value->get<std::string>());
    if (!type) {
      sink_.Error(Loc(location, "Type"), "unknown state type " + Describe(*type_value) +
                                             " (expected Pass, Task, Choice, Wait, Succeed, "
                                             "Fail, Parallel or Map)");
      return;
    }
    state->type = *type;
    if (!CheckQueryLanguage(object, location, sink_)) return;
    std::string what = "a " + std::string(StateTypeName(*type)) + " state";
    CheckKnownFields(object, FieldsOf(*type), location, what, sink_);
    if (const Value* comment = Field(object, "Comment")) {
      ReadString(*comment, Loc(location, "Comment"), sink_, &state->comment);
    }
    switch (*type) {
      case StateType::kPass:
        ParsePass(object, state);
        break;
      case StateType::kTask:
        ParseTask(object, state);
        break;
      case StateType::kChoice:
        ParseChoice(object, state);
        break;
      case StateType::kWait:
        ParseWait(object, state);
        break;
      case StateType::kSucceed:
        ParseInputOutput(object, state);
        break;
      case StateType::kFail:
        ParseFail(object, state);
        break;
      case StateType::kParallel:
        ParseParallel(object, state);
        break;
      case StateType::kMap:
        ParseMap(object, state);
        break;
    }
  }

  // Next / End for the types that have them.
  void ParseTransition(const Value& object, State* state) {
    const std::string& location = state->location;
    const Value* next = Field(object, "Next");
    const Value* end = Field(object, "End");
    if (end != nullptr) ReadBool(*end, Loc(location, "End"), sink_, &state->end);
    if (next != nullptr && ReadString(*next, Loc(location, "Next"), sink_, &state->next) &&
        state->next.empty()) {
      sink_.Error(Loc(location, "Next"), "must name a state");
    }
    if (next != nullptr && state->end) {
      sink_.Error(location, "has both Next and \"End\": true; use one of them");
    } else if (next == nullptr && end == nullptr) {
      sink_.Error(location, "needs Next or \"End\": true");
    } else if (next == nullptr && end->is_boolean() && !state->end) {
      sink_.Error(Loc(location, "End"), "is false and there is no Next");
    }
  }

  void ReadOptionalPath(const Value& object, std::string_view key, const std::string& location,
                        Path::Kind kind, bool allow_context, OptionalPath* out) {
    const Value* value = Field(object, key);
    if (value == nullptr) return;
    if (value->is_null()) {
      out->kind = OptionalPath::Kind::kNull;
      return;
    }
    if (auto path = CompilePath(*value, Loc(location, key), kind, sink_, allow_context)) {
      out->kind = OptionalPath::Kind::kSet;
      out->path = std::move(*path);
    }
  }

  void ParseInputOutput(const Value& object, State* state) {
    ReadOptionalPath(object, "InputPath", state->location, Path::Kind::kPath, true,
                     &state->input_path);
    ReadOptionalPath(object, "OutputPath", state->location, Path::Kind::kPath, true,
                     &state->output_path);
  }

  void ReadResultPath(const Value& object, State* state) {
    ReadOptionalPath(object, "ResultPath", state->location, Path::Kind::kReferencePath, false,
                     &state->result_path);
  }

  std::optional<PayloadTemplate> ReadTemplate(const Value& object, std::string_view key,
                                              const std::string& location) {
    const Value* value = Field(object, key);
    if (value == nullptr) return std::nullopt;
    std::string here = Loc(location, key);
    if (!value->is_object()) {
      sink_.Error(here, "must be a JSON object, got " + Describe(*value));
      return std::nullopt;
    }
    PayloadTemplate compiled;
    PayloadTemplate::Compile(*value, here, &compiled, sink_.problems());
    return compiled;
  }

  void ParseErrorHandling(const Value& object, State* state) {
    if (const Value* retry = Field(object, "Retry")) {
      internal::ParseRetry(*retry, Loc(state->location, "Retry"), sink_, &state->retry);
    }
    if (const Value* catchers = Field(object, "Catch")) {
      internal::ParseCatch(*catchers, Loc(state->location, "Catch"), sink_, &state->catchers);
    }
  }

  // A value given literally or through a `...Path` field; the two are exclusive.
  // `read_literal` reads and checks the literal form.
  template <typename T, typename ReadLiteral>
  void ReadLiteralOrPath(const Value& object, std::string_view key, const std::string& location,
                         ReadLiteral&& read_literal, LiteralOrPath<T>* out) {
    std::string path_key = std::string(key) + "Path";
    const Value* literal = Field(object, key);
    const Value* path = Field(object, path_key);
    if (literal != nullptr && path != nullptr) {
      sink_.Error(location, std::string(key) + " and " + path_key + " cannot both be set");
    }
    if (literal != nullptr) {
      T value{};
      if (read_literal(*literal, Loc(location, key), &value)) out->literal = value;
    }
    if (path != nullptr) {
      out->path = CompilePath(*path, Loc(location, path_key), Path::Kind::kReferencePath, sink_);
    }
  }

  auto IntegerReader(int64_t min, int64_t max = std::numeric_limits<int64_t>::max()) {
    return [this, min, max](const Value& v, const std::string& where, int64_t* out) {
      return ReadInteger(v, where, min, sink_, out, max);
    };
  }

  void ParsePass(const Value& object, State* state) {
    ParseTransition(object, state);
    ParseInputOutput(object, state);
    ReadResultPath(object, state);
    state->parameters = ReadTemplate(object, "Parameters", state->location);
    if (const Value* result = Field(object, "Result")) state->result = *result;
  }

  void ParseTask(const Value& object, State* state) {
    const std::string& location = state->location;
    ParseTransition(object, state);
    ParseInputOutput(object, state);
    ReadResultPath(object, state);
    state->parameters = ReadTemplate(object, "Parameters", location);
    state->result_selector = ReadTemplate(object, "ResultSelector", location);
    state->credentials = ReadTemplate(object, "Credentials", location);
    ParseErrorHandling(object, state);

    std::string resource_location = Loc(location, "Resource");
    if (const Value* resource = Field(object, "Resource")) {
      if (ReadString(*resource, resource_location, sink_, &state->resource)) {
        if (state->resource.empty()) {
          sink_.Error(resource_location, "must not be empty");
        } else if (state->resource.find(".waitForTaskToken") != std::string::npos) {
          sink_.Error(resource_location,
                      "the callback pattern (.waitForTaskToken) is not "
                      "supported by this engine");
        }
      }
    } else {
      sink_.Error(resource_location, "required field is missing");
    }

    ReadLiteralOrPath(object, "TimeoutSeconds", location, IntegerReader(1, internal::kMaxSeconds),
                      &state->timeout_seconds);
    ReadLiteralOrPath(object, "HeartbeatSeconds", location, IntegerReader(1, internal::kMaxSeconds),
                      &state->heartbeat_seconds);
    const auto& timeout = state->timeout_seconds.literal;
    const auto& heartbeat = state->heartbeat_seconds.literal;
    if (timeout && heartbeat && *heartbeat >= *timeout) {
      sink_.Error(Loc(location, "HeartbeatSeconds"), "must be less than TimeoutSeconds (" +
                                                         std::to_string(*timeout) + "), got " +
                                                         std::to_string(*heartbeat));
    }
  }

  void ParseChoice(const Value& object, State* state) {
    const std::string& location = state->location;
    ParseInputOutput(object, state);
    if (const Value* choices = Field(object, "Choices")) {
      internal::ParseChoices(*choices, Loc(location, "Choices"), sink_, &state->choices);
    } else {
      sink_.Error(Loc(location, "Choices"), "required field is missing");
    }
    if (const Value* fallback = Field(object, "Default")) {
      if (ReadString(*fallback, Loc(location, "Default"), sink_, &state->default_next) &&
          state->default_next.empty()) {
        sink_.Error(Loc(location, "Default"), "must name a state");
      }
    }
  }

  void ParseWait(const Value& object, State* state) {
    const std::string& location = state->location;
    ParseTransition(object, state);
    ParseInputOutput(object, state);
    std::vector<std::string_view> given;
    for (std::string_view key : {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"}) {
      if (Field(object, key) != nullptr) given.push_back(key);
    }
    if (given.empty()) {
      sink_.Error(location, "needs one of Seconds, SecondsPath, Timestamp or TimestampPath");
    } else if (given.size() > 1) {
      std::string list;
      for (std::string_view key : given) list += (list.empty() ? "" : ", ") + std::string(key);
      sink_.Error(location,
                  "must have exactly one of Seconds, SecondsPath, Timestamp or "
                  "TimestampPath, got " +
                      list);
    }
    int64_t seconds = 0;
    if (const Value* v = Field(object, "Seconds")) {
      if (ReadInteger(*v, Loc(location, "Seconds"), 0, sink_, &seconds, internal::kMaxSeconds)) {
        state->seconds = static_cast<double>(seconds);
      }
    }
    if (const Value* v = Field(object, "Timestamp")) {
      if (v->is_string() && ParseTimestamp(v->get_ref<const std::string&>())) {
        state->timestamp = v->get<std::string>();
      } else {
        sink_.Error(Loc(location, "Timestamp"),
                    "must be an RFC 3339 timestamp such as "
                    "\"2016-03-14T01:59:00Z\", got " +
                        Describe(*v));
      }
    }
    if (const Value* v = Field(object, "SecondsPath")) {
      state->seconds_path =
          CompilePath(*v, Loc(location, "SecondsPath"), Path::Kind::kReferencePath, sink_);
    }
    if (const Value* v = Field(object, "TimestampPath")) {
      state->timestamp_path =
          CompilePath(*v, Loc(location, "TimestampPath"), Path::Kind::kReferencePath, sink_);
    }
  }

  void ParseFail(const Value& object, State* state) {
    const std::string& location = state->location;
    struct Pair {
      std::string_view literal_key;
      std::optional<std::string>* literal;
      PathOrIntrinsic* path;
      bool is_error;
    };
    for (const Pair& pair : {Pair{"Error", &state->error, &state->error_path, true},
                             Pair{"Cause", &state->cause, &state->cause_path, false}}) {
      std::string path_key = std::string(pair.literal_key) + "Path";
      const Value* literal = Field(object, pair.literal_key);
      const Value* path = Field(object, path_key);
      if (literal != nullptr && path != nullptr) {
        sink_.Error(location,
                    std::string(pair.literal_key) + " and " + path_key + " cannot both be set");
      }
      std::string text;
      std::string literal_location = Loc(location, pair.literal_key);
      if (literal != nullptr && ReadString(*literal, literal_location, sink_, &text)) {
        if (pair.is_error) internal::CheckErrorName(text, literal_location, sink_);
        *pair.literal = std::move(text);
      }
      if (path != nullptr) {
        internal::CompilePathOrIntrinsic(*path, Loc(location, path_key), sink_, pair.path);
      }
    }
  }

  void ParseParallel(const Value& object, State* state) {
    const std::string& location = state->location;
    ParseTransition(object, state);
    ParseInputOutput(object, state);
    ReadResultPath(object, state);
    state->parameters = ReadTemplate(object, "Parameters", location);
    state->result_selector = ReadTemplate(object, "ResultSelector", location);
    ParseErrorHandling(object, state);
    std::string here = Loc(location, "Branches");
    const Value* branches = Field(object, "Branches");
    if (branches == nullptr) {
      sink_.Error(here, "required field is missing");
      return;
    }
    if (!branches->is_array() || branches->empty()) {
      sink_.Error(here, "must be a non-empty array of branches, got " + Describe(*branches));
      return;
    }
    for (size_t i = 0; i < branches->size(); ++i) {
      const Value& branch = (*branches)[i];
      std::string branch_location = Idx(here, i);
      auto machine = std::make_unique<StateMachine>();
      if (!branch.is_object()) {
        sink_.Error(branch_location,
                    "a branch must be an object with StartAt and States, "
                    "got " +
                        Describe(branch));
      } else {
        CheckKnownFields(branch, kBranchFields, branch_location, "a Parallel branch", sink_);
        ParseBlock(branch, branch_location, machine.get());
      }
      state->branches.push_back(std::move(machine));
    }
  }

  void ParseMap(const Value& object, State* state) {
    const std::string& location = state->location;
    ParseTransition(object, state);
    ParseInputOutput(object, state);
    ReadResultPath(object, state);
    state->result_selector = ReadTemplate(object, "ResultSelector", location);
    ParseErrorHandling(object, state);

    for (std::string_view key : {"ItemReader", "ResultWriter", "ItemBatcher", "Label"}) {
      if (Field(object, key) != nullptr) {
        sink_.Error(Loc(location, key),
                    "distributed Map is not supported by this engine "
                    "(inline Map only)");
      }
    }

    // The processor: ItemProcessor, or its older name Iterator.
    const Value* processor = Field(object, "ItemProcessor");
    std::string processor_key = "ItemProcessor";
    if (const Value* iterator = Field(object, "Iterator")) {
      if (processor != nullptr) {
        sink_.Error(location, "ItemProcessor and Iterator (its older name) cannot both be set");
      } else {
        processor = iterator;
        processor_key = "Iterator";
      }
    }
    std::string processor_location = Loc(location, processor_key);
    if (processor == nullptr) {
      sink_.Error(processor_location, "required field is missing");
    } else if (!processor->is_object()) {
      sink_.Error(processor_location,
                  "must be an object with StartAt and States, got " + Describe(*processor));
    } else {
      CheckKnownFields(*processor, kProcessorFields, processor_location, "a Map " + processor_key,
                       sink_);
      ParseProcessorConfig(*processor, processor_location);
      state->processor = std::make_unique<StateMachine>();
      ParseBlock(*processor, processor_location, state->processor.get());
    }

    // ItemSelector, or its older name Parameters.
    if (Field(object, "ItemSelector") != nullptr && Field(object, "Parameters") != nullptr) {
      sink_.Error(location, "ItemSelector and Parameters (its older name) cannot both be set");
    }
    state->item_selector = ReadTemplate(object, "ItemSelector", location);
    if (!state->item_selector) {
      state->item_selector = ReadTemplate(object, "Parameters", location);
    }

    if (const Value* items = Field(object, "ItemsPath")) {
      if (auto path =
              CompilePath(*items, Loc(location, "ItemsPath"), Path::Kind::kReferencePath, sink_)) {
        state->items_path.kind = OptionalPath::Kind::kSet;
        state->items_path.path = std::move(*path);
      }
    }
    ReadLiteralOrPath(object, "MaxConcurrency", location, IntegerReader(0),
                      &state->max_concurrency);
    ReadLiteralOrPath(object, "ToleratedFailureCount", location, IntegerReader(0),
                      &state->tolerated_failure_count);
    ReadLiteralOrPath(
        object, "ToleratedFailurePercentage", location,
        [this](const Value& v, const std::string& where, double* out) {
          if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 100) {
            sink_.Error(where, "must be a number from 0 to 100, got " + Describe(v));
            return false;
          }
          *out = v.get<double>();
          return true;
        },
        &state->tolerated_failure_percentage);
  }

  void ParseProcessorConfig(const Value& processor, const std::string& processor_location) {
    const Value* config = Field(processor, "ProcessorConfig");
    if (config == nullptr) return;
    std::string here = Loc(processor_location, "ProcessorConfig");
    if (!config->is_object()) {
      sink_.Error(here, "must be an object, got " + Describe(*config));
      return;
    }
    CheckKnownFields(*config, kProcessorConfigFields, here, "a ProcessorConfig", sink_);
    const Value* mode = Field(*config, "Mode");
    bool distributed = mode != nullptr && *mode == "DISTRIBUTED";
    if (distributed) {
      sink_.Error(Loc(here, "Mode"),
                  "distributed Map is not supported by this engine; use "
                  "\"INLINE\"");
    } else if (mode != nullptr && *mode != "INLINE") {
      sink_.Error(Loc(here, "Mode"),
                  "must be \"INLINE\" or \"DISTRIBUTED\", got " + Describe(*mode));
    }
    if (Field(*config, "ExecutionType") != nullptr && !distributed) {
      sink_.Error(Loc(here, "ExecutionType"), "only allowed with Mode \"DISTRIBUTED\"");
    }
  }

  ProblemSink& sink_;
};

std::string JoinProblems(const std::vector<Problem>& problems) {
  std::string message;
  for (const Problem& problem : problems) {
    if (!message.empty()) message += '\n';
    if (problem.warning) message += "warning: ";
    message += problem.ToString();
  }
  return message;
}

}  // namespace

Result<std::shared_ptr<const Definition>> ParseDefinition(std::string_view json_text,
                                                          std::vector<Problem>* problems) {
  ProblemSink sink;
  auto definition = std::make_shared<Definition>();
  Value doc;
  if (ParseJson(json_text, &doc, sink)) {
    Parser(sink).ParseMachine(doc, definition.get());
    if (!definition->machine.states.empty()) internal::CheckMachine(definition->machine, sink);
  }
  std::vector<Problem>& found = *sink.problems();
  std::stable_partition(found.begin(), found.end(), [](const Problem& p) { return !p.warning; });
  if (problems != nullptr) *problems = found;
  if (sink.HasErrors()) return InvalidArgument(JoinProblems(found));
  for (Problem& problem : found) definition->warnings.push_back(std::move(problem));
  return std::shared_ptr<const Definition>(std::move(definition));
}

}  // namespace sluice::asl
