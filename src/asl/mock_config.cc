#include "asl/mock_config.h"

#include <algorithm>

namespace sluice::asl {
namespace {

// Collects problems with their locations while the file is read.
class Problems {
 public:
  void Add(const std::string& location, const std::string& message) {
    lines_.push_back(location.empty() ? message : location + ": " + message);
  }
  bool empty() const { return lines_.empty(); }
  Status ToStatus() const {
    std::string text = "mock config: " + std::to_string(lines_.size()) + " problem" +
                       (lines_.size() == 1 ? "" : "s");
    for (const std::string& line : lines_) text += "\n" + line;
    return InvalidArgument(std::move(text));
  }

 private:
  std::vector<std::string> lines_;
};

bool ParseCount(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 12) return false;
  int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  *out = n;
  return true;
}

// "3" -> [3, 3]; "1-2" -> [1, 2].
bool ParseInvocationKey(std::string_view key, int64_t* first, int64_t* last) {
  size_t dash = key.find('-');
  if (dash == std::string_view::npos) {
    if (!ParseCount(key, first)) return false;
    *last = *first;
    return true;
  }
  return ParseCount(key.substr(0, dash), first) && ParseCount(key.substr(dash + 1), last) &&
         *first <= *last;
}

void ParseEntry(const std::string& where, const Value& entry, MockedInvocations* out,
                Problems* problems) {
  if (!entry.is_object()) {
    problems->Add(where, "must be an object with Return or Throw");
    return;
  }
  bool has_return = entry.contains("Return");
  bool has_throw = entry.contains("Throw");
  for (const auto& [key, value] : entry.items()) {
    if (key != "Return" && key != "Throw") problems->Add(where + "." + key, "unknown field");
  }
  if (has_return == has_throw) {
    problems->Add(where, "must have exactly one of Return and Throw");
    return;
  }
  if (has_return) {
    out->result = entry.at("Return");
    return;
  }
  out->is_throw = true;
  const Value& thrown = entry.at("Throw");
  if (!thrown.is_object()) {
    problems->Add(where + ".Throw", "must be an object {\"Error\": ..., \"Cause\": ...}");
    return;
  }
  for (const auto& [key, value] : thrown.items()) {
    if (key != "Error" && key != "Cause") {
      problems->Add(where + ".Throw." + key, "unknown field");
    }
  }
  auto error = thrown.find("Error");
  if (error == thrown.end() || !error->is_string() ||
      error->get_ref<const std::string&>().empty()) {
    problems->Add(where + ".Throw.Error", "must be a non-empty string");
  } else {
    out->error.error = error->get<std::string>();
  }
  if (auto cause = thrown.find("Cause"); cause != thrown.end()) {
    if (!cause->is_string()) {
      problems->Add(where + ".Throw.Cause", "must be a string");
    } else {
      out->error.cause = cause->get<std::string>();
    }
  }
}

std::vector<MockedInvocations> ParseResponse(const std::string& where, const Value& response,
                                             Problems* problems) {
  std::vector<MockedInvocations> entries;
  if (!response.is_object() || response.empty()) {
    problems->Add(where, "must be a non-empty object of invocations (\"0\", \"1-2\", ...)");
    return entries;
  }
  for (const auto& [key, entry] : response.items()) {
    const std::string at = where + "." + key;
    MockedInvocations invocations;
    if (!ParseInvocationKey(key, &invocations.first, &invocations.last)) {
      problems->Add(at, "an invocation must be a number (\"0\") or an inclusive range (\"1-2\")");
      continue;
    }
    ParseEntry(at, entry, &invocations, problems);
    entries.push_back(std::move(invocations));
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].first <= entries[i - 1].last) {
      problems->Add(
          where, "invocation " + std::to_string(entries[i].first) + " has more than one response");
    }
  }
  return entries;
}

}  // namespace

bool MockTestCase::Mocks(std::string_view state_name) const {
  return by_state_.find(state_name) != by_state_.end();
}

std::vector<std::string> MockTestCase::MockedStates() const {
  std::vector<std::string> names;
  for (const Mock& mock : mocks_) names.push_back(mock.state);
  return names;
}

EvalResult<Value> MockTestCase::Respond(std::string_view state_name, int64_t invocation) const {
  auto it = by_state_.find(state_name);
  if (it == by_state_.end()) {
    return ErrorInfo{std::string(errors::kRuntime),
                     "state \"" + std::string(state_name) + "\" is not mocked"};
  }
  const Mock& mock = mocks_[it->second];
  for (const MockedInvocations& entry : mock.invocations) {
    if (invocation < entry.first || invocation > entry.last) continue;
    if (entry.is_throw) return entry.error;
    return entry.result;
  }
  return ErrorInfo{std::string(errors::kRuntime),
                   "mocked response \"" + mock.response_name + "\" of state \"" + mock.state +
                       "\" (test case \"" + name_ + "\") has no entry for invocation " +
                       std::to_string(invocation)};
}

Result<MockConfig> MockConfig::Parse(std::string_view json_text) {
  Value doc;
  try {
    doc = Value::parse(json_text);
  } catch (const Value::exception& e) {
    return InvalidArgument(std::string("mock config: invalid JSON: ") + e.what());
  }
  Problems problems;
  if (!doc.is_object()) {
    problems.Add("", "must be a JSON object with StateMachines and MockedResponses");
    return problems.ToStatus();
  }
  for (const auto& [key, value] : doc.items()) {
    if (key != "StateMachines" && key != "MockedResponses") {
      problems.Add(key, "unknown field (expected StateMachines and MockedResponses)");
    }
  }
  MockConfig config;
  auto responses = doc.find("MockedResponses");
  if (responses == doc.end() || !responses->is_object()) {
    problems.Add("MockedResponses", "required, an object of mocked responses");
  } else {
    for (const auto& [name, response] : responses->items()) {
      config.responses_[name] = ParseResponse("MockedResponses." + name, response, &problems);
    }
  }
  auto machines = doc.find("StateMachines");
  if (machines == doc.end() || !machines->is_object()) {
    problems.Add("StateMachines", "required, an object of state machines");
    return problems.ToStatus();
  }
  for (const auto& [machine_name, machine] : machines->items()) {
    const std::string where = "StateMachines." + machine_name;
    Machine parsed{machine_name, {}};
    if (!machine.is_object() || !machine.contains("TestCases") ||
        !machine.at("TestCases").is_object()) {
      problems.Add(where, "must be an object {\"TestCases\": {...}}");
      continue;
    }
    for (const auto& [key, value] : machine.items()) {
      if (key != "TestCases") problems.Add(where + "." + key, "unknown field");
    }
    for (const auto& [case_name, test_case] : machine.at("TestCases").items()) {
      const std::string at = where + ".TestCases." + case_name;
      if (!test_case.is_object()) {
        problems.Add(at, "must be an object {\"<state name>\": \"<mocked response>\"}");
        continue;
      }
      std::vector<std::pair<std::string, std::string>> states;
      for (const auto& [state, response] : test_case.items()) {
        if (!response.is_string()) {
          problems.Add(at + "." + state, "must name a mocked response (a string)");
          continue;
        }
        const std::string& name = response.get_ref<const std::string&>();
        if (responses != doc.end() && responses->is_object() && !responses->contains(name)) {
          problems.Add(at + "." + state, "no mocked response named \"" + name + "\"");
          continue;
        }
        states.emplace_back(state, name);
      }
      parsed.test_cases.emplace_back(case_name, std::move(states));
    }
    config.machines_.push_back(std::move(parsed));
  }
  if (!problems.empty()) return problems.ToStatus();
  return config;
}

std::vector<std::string> MockConfig::StateMachines() const {
  std::vector<std::string> names;
  for (const Machine& machine : machines_) names.push_back(machine.name);
  return names;
}

Result<MockTestCase> MockConfig::FindTestCase(std::string_view state_machine_name,
                                              std::string_view test_case) const {
  const Machine* machine = nullptr;
  for (const Machine& m : machines_) {
    if (m.name == state_machine_name) machine = &m;
  }
  if (machine == nullptr && machines_.size() == 1) machine = &machines_.front();
  if (machine == nullptr) {
    std::string names;
    for (const Machine& m : machines_) names += (names.empty() ? "\"" : ", \"") + m.name + "\"";
    return NotFound("mock config: no state machine named \"" + std::string(state_machine_name) +
                    "\" (it has " + (names.empty() ? std::string("none") : names) +
                    "); set the name with --context '{\"StateMachine\": {\"Name\": ...}}'");
  }
  for (const auto& [case_name, states] : machine->test_cases) {
    if (case_name != test_case) continue;
    MockTestCase result;
    result.state_machine_ = machine->name;
    result.name_ = case_name;
    for (const auto& [state, response_name] : states) {
      result.by_state_[state] = result.mocks_.size();
      result.mocks_.push_back({state, response_name, responses_.at(response_name)});
    }
    return result;
  }
  std::string names;
  for (const auto& tc : machine->test_cases) {
    names += (names.empty() ? "\"" : ", \"") + tc.first + "\"";
  }
  return NotFound("mock config: state machine \"" + machine->name + "\" has no test case \"" +
                  std::string(test_case) + "\" (it has " +
                  (names.empty() ? std::string("none") : names) + ")");
}

}  // namespace sluice::asl
