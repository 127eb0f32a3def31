#include "asl/binding.h"

#include <algorithm>

namespace sluice::asl {
namespace {

constexpr std::string_view kWhiteSpace = " \t\r\n";

std::string_view Trim(std::string_view s) {
  size_t begin = s.find_first_not_of(kWhiteSpace);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kWhiteSpace);
  return s.substr(begin, end - begin + 1);
}

// Length of the valid UTF-8 sequence at s[i], or 0 if there is none.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n = 0;
  unsigned min = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  unsigned cp = c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Replaces invalid UTF-8 by U+FFFD, so the text can go into a JSON string.
std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// nlohmann's messages start with "[json.exception.parse_error.101] ".
std::string ParseErrorText(const std::exception& e) {
  std::string_view what = e.what();
  if (!what.empty() && what[0] == '[') {
    if (auto close = what.find("] "); close != std::string_view::npos) {
      what.remove_prefix(close + 2);
    }
  }
  return std::string(what);
}

std::string ExitDescription(const CommandOutcome& outcome) {
  if (outcome.term_signal != 0) {
    return "command was killed by signal " + std::to_string(outcome.term_signal);
  }
  return "command exited with status " + std::to_string(outcome.exit_code);
}

}  // namespace

Result<Bindings> ParseBindings(std::string_view json_text) {
  Value doc;
  try {
    doc = Value::parse(json_text);
  } catch (const Value::exception& e) {
    return InvalidArgument("bindings: invalid JSON: " + ParseErrorText(e));
  }
  if (!doc.is_object()) {
    return InvalidArgument(
        "bindings: must be a JSON object {\"<resource>\": \"<shell command>\", ...}");
  }
  Bindings bindings;
  for (const auto& [resource, command] : doc.items()) {
    if (resource.empty()) return InvalidArgument("bindings: a resource must not be empty");
    if (!command.is_string() || Trim(command.get_ref<const std::string&>()).empty()) {
      return InvalidArgument("bindings: \"" + resource +
                             "\": the command must be a non-empty string");
    }
    bindings[resource] = command.get<std::string>();
  }
  return bindings;
}

Result<std::pair<std::string, std::string>> ParseBindFlag(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || Trim(text.substr(eq + 1)).empty()) {
    return InvalidArgument("--bind: expected RESOURCE=COMMAND, got \"" + std::string(text) + "\"");
  }
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

std::vector<std::pair<std::string, std::string>> BindingEnvironment(std::string_view resource,
                                                                    std::string_view state_name,
                                                                    std::string_view execution_name,
                                                                    int attempt) {
  return {{"SLUICE_RESOURCE", std::string(resource)},
          {"SLUICE_STATE_NAME", std::string(state_name)},
          {"SLUICE_EXECUTION_NAME", std::string(execution_name)},
          {"SLUICE_ATTEMPT", std::to_string(attempt + 1)}};
}

EvalResult<Value> InterpretCommandOutcome(const CommandOutcome& outcome) {
  std::string_view out = Trim(outcome.stdout_text);
  const bool success = outcome.term_signal == 0 && outcome.exit_code == 0;
  if (success) {
    if (out.empty()) return Value(nullptr);
    try {
      return Value::parse(out);
    } catch (const Value::exception& e) {
      return ErrorInfo{std::string(errors::kTaskFailed),
                       "the command exited with status 0 but its output is not JSON (" +
                           ParseErrorText(e) + "); output: " + TailOf(out, 5, 512)};
    }
  }
  if (!out.empty() && out.front() == '{') {
    try {
      Value doc = Value::parse(out);
      auto error = doc.find("Error");
      if (error != doc.end() && error->is_string() &&
          !error->get_ref<const std::string&>().empty()) {
        ErrorInfo info{error->get<std::string>(), ""};
        if (auto cause = doc.find("Cause"); cause != doc.end() && !cause->is_null()) {
          info.cause = cause->is_string()
                           ? cause->get<std::string>()
                           : cause->dump(-1, ' ', false, Value::error_handler_t::replace);
        }
        return info;
      }
    } catch (const Value::exception&) {
      // Not an error object: fall through to the stderr tail.
    }
  }
  std::string tail = TailOf(outcome.stderr_text);
  return ErrorInfo{std::string(errors::kTaskFailed),
                   tail.empty() ? ExitDescription(outcome) : std::move(tail)};
}

std::string TailOf(std::string_view text, size_t max_lines, size_t max_bytes) {
  size_t end = text.find_last_not_of(kWhiteSpace);
  if (end == std::string_view::npos) return {};
  text = text.substr(0, end + 1);
  // Start of the last `max_lines` lines.
  size_t begin = text.size();
  size_t lines = 0;
  while (begin > 0) {
    size_t nl = text.rfind('\n', begin - 1);
    if (nl == std::string_view::npos) {
      begin = 0;
      break;
    }
    if (++lines == max_lines) {
      begin = nl + 1;
      break;
    }
    begin = nl;
  }
  while (begin < text.size() && (text[begin] == '\n' || text[begin] == '\r')) ++begin;
  std::string_view tail = text.substr(begin);
  if (tail.size() > max_bytes) {
    tail = tail.substr(tail.size() - max_bytes);
    // Do not start inside a UTF-8 sequence.
    while (!tail.empty() && (static_cast<unsigned char>(tail.front()) & 0xC0) == 0x80) {
      tail.remove_prefix(1);
    }
  }
  return ValidUtf8(tail);
}

ErrorInfo ResourceNotBoundError(std::string_view resource, std::string_view state_name) {
  std::string r(resource);
  return ErrorInfo{std::string(kResourceNotBound),
                   "state \"" + std::string(state_name) + "\": no command is bound to resource \"" +
                       r + "\"; bind one with --bind '" + r +
                       "=COMMAND' or a --bindings file, or mock it with --mock-config"};
}

}  // namespace sluice::asl
