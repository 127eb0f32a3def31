// JSON helpers over nlohmann::json. Parsing never throws: errors come back as a Status that
// names what was being parsed.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

using Json = nlohmann::json;

// Parses `text`; on failure the message is "<what>: invalid JSON at byte N: ...".
Result<Json> ParseJson(std::string_view text, std::string_view what);

}  // namespace sluice
