#include "common/json.h"

#include <nlohmann/json.hpp>

namespace sluice {

Result<Json> ParseJson(std::string_view text, std::string_view what) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    return InvalidArgument(std::string(what) + ": invalid JSON at byte " +
                           std::to_string(e.byte) + ": " + e.what());
  }
}

}  // namespace sluice
