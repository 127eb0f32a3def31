#include "asl/value.h"

namespace sluice::asl {

bool IsUncatchable(std::string_view error) {
  return error == errors::kRuntime || error == errors::kDataLimitExceeded;
}

bool ErrorMatches(const std::vector<std::string>& error_equals, std::string_view error) {
  if (IsUncatchable(error)) return false;
  for (const std::string& name : error_equals) {
    if (name == error) return true;
    if (name == errors::kAll) return true;
    if (name == errors::kTaskFailed && error != errors::kTimeout) return true;
  }
  return false;
}

bool JsonEquals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a == b;  // nlohmann compares across int/float
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Value::value_t::array: {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!JsonEquals(a[i], b[i])) return false;
      }
      return true;
    }
    case Value::value_t::object: {
      if (a.size() != b.size()) return false;
      for (const auto& [key, value] : a.items()) {
        auto it = b.find(key);
        if (it == b.end() || !JsonEquals(value, *it)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

std::string_view JsonTypeName(const Value& v) {
  switch (v.type()) {
    case Value::value_t::null:
      return "null";
    case Value::value_t::boolean:
      return "boolean";
    case Value::value_t::string:
      return "string";
    case Value::value_t::array:
      return "array";
    case Value::value_t::object:
      return "object";
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned:
    case Value::value_t::number_float:
      return "number";
    default:
      return "invalid";
  }
}

std::string JsonForMessage(const Value& v, size_t max_bytes) {
  std::string text = v.dump(-1, ' ', false, Value::error_handler_t::replace);
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  // Back up to the first byte of a UTF-8 sequence so the cut never splits a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  text += "...";
  return text;
}

}  // namespace sluice::asl
