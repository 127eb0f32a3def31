// Events fed to an Execution: constructors and the JSON form drivers persist.
#include <string>
#include <utility>

#include "asl/interpreter.h"

namespace sluice::asl {
namespace {

constexpr std::pair<Event::Type, std::string_view> kTypeNames[] = {
    {Event::Type::kStart, "Start"},           {Event::Type::kTaskSucceeded, "TaskSucceeded"},
    {Event::Type::kTaskFailed, "TaskFailed"}, {Event::Type::kTaskHeartbeat, "TaskHeartbeat"},
    {Event::Type::kTimerFired, "TimerFired"}, {Event::Type::kStop, "Stop"},
};

std::string_view TypeName(Event::Type type) {
  for (const auto& [t, name] : kTypeNames) {
    if (t == type) return name;
  }
  return "Unknown";
}

}  // namespace

Event Event::Start(Value input, Micros at) {
  Event e;
  e.type = Type::kStart;
  e.at = at;
  e.input = std::move(input);
  return e;
}

Event Event::TaskSucceeded(std::string task_id, Value output, Micros at) {
  Event e;
  e.type = Type::kTaskSucceeded;
  e.at = at;
  e.task_id = std::move(task_id);
  e.output = std::move(output);
  return e;
}

Event Event::TaskFailed(std::string task_id, std::string error, std::string cause, Micros at) {
  Event e;
  e.type = Type::kTaskFailed;
  e.at = at;
  e.task_id = std::move(task_id);
  e.error = std::move(error);
  e.cause = std::move(cause);
  return e;
}

Event Event::TaskHeartbeat(std::string task_id, Micros at) {
  Event e;
  e.type = Type::kTaskHeartbeat;
  e.at = at;
  e.task_id = std::move(task_id);
  return e;
}

Event Event::TimerFired(std::string timer_id, Micros at) {
  Event e;
  e.type = Type::kTimerFired;
  e.at = at;
  e.timer_id = std::move(timer_id);
  return e;
}

Event Event::Stop(std::string error, std::string cause, Micros at) {
  Event e;
  e.type = Type::kStop;
  e.at = at;
  e.error = std::move(error);
  e.cause = std::move(cause);
  return e;
}

Value Event::ToJson() const {
  Value j = Value::object();
  j["type"] = TypeName(type);
  j["at"] = at;
  switch (type) {
    case Type::kStart:
      j["input"] = input;
      break;
    case Type::kTaskSucceeded:
      j["task_id"] = task_id;
      j["output"] = output;
      break;
    case Type::kTaskFailed:
      j["task_id"] = task_id;
      j["error"] = error;
      j["cause"] = cause;
      break;
    case Type::kTaskHeartbeat:
      j["task_id"] = task_id;
      break;
    case Type::kTimerFired:
      j["timer_id"] = timer_id;
      break;
    case Type::kStop:
      j["error"] = error;
      j["cause"] = cause;
      break;
  }
  return j;
}

Result<Event> Event::FromJson(const Value& json) {
  if (!json.is_object()) return InvalidArgument("event: must be a JSON object");
  auto type_it = json.find("type");
  if (type_it == json.end() || !type_it->is_string()) {
    return InvalidArgument("event.type: must be a string");
  }
  Event e;
  bool known = false;
  const std::string& name = type_it->get_ref<const std::string&>();
  for (const auto& [t, n] : kTypeNames) {
    if (n == name) {
      e.type = t;
      known = true;
    }
  }
  if (!known) return InvalidArgument("event.type: unknown event type \"" + name + "\"");
  auto at_it = json.find("at");
  if (at_it == json.end() || !at_it->is_number_integer()) {
    return InvalidArgument("event.at: must be an integer (microseconds)");
  }
  e.at = at_it->get<Micros>();

  auto text = [&](const char* key, std::string* out, bool required) -> Status {
    auto it = json.find(key);
    if (it == json.end()) {
      return required ? InvalidArgument(std::string("event.") + key + ": missing") : Status::Ok();
    }
    if (!it->is_string())
      return InvalidArgument(std::string("event.") + key + ": must be a string");
    *out = it->get<std::string>();
    return Status::Ok();
  };
  switch (e.type) {
    case Type::kStart: {
      auto it = json.find("input");
      e.input = it == json.end() ? Value::object() : *it;
      break;
    }
    case Type::kTaskSucceeded: {
      RETURN_IF_ERROR(text("task_id", &e.task_id, true));
      auto it = json.find("output");
      if (it != json.end()) e.output = *it;
      break;
    }
    case Type::kTaskFailed:
      RETURN_IF_ERROR(text("task_id", &e.task_id, true));
      RETURN_IF_ERROR(text("error", &e.error, false));
      RETURN_IF_ERROR(text("cause", &e.cause, false));
      break;
    case Type::kTaskHeartbeat:
      RETURN_IF_ERROR(text("task_id", &e.task_id, true));
      break;
    case Type::kTimerFired:
      RETURN_IF_ERROR(text("timer_id", &e.timer_id, true));
      break;
    case Type::kStop:
      RETURN_IF_ERROR(text("error", &e.error, false));
      RETURN_IF_ERROR(text("cause", &e.cause, false));
      break;
  }
  return e;
}

std::string_view ExecutionStatusName(ExecutionResult::Status s) {
  switch (s) {
    case ExecutionResult::Status::kSucceeded:
      return "SUCCEEDED";
    case ExecutionResult::Status::kFailed:
      return "FAILED";
    case ExecutionResult::Status::kTimedOut:
      return "TIMED_OUT";
    case ExecutionResult::Status::kAborted:
      return "ABORTED";
  }
  return "UNKNOWN";
}

}  // namespace sluice::asl
