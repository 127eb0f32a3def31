// Query-string parsing for the list endpoints: parameter lookup with percent-decoding, and the
// page_size / offset integers.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::api {

// The percent-decoded value of the first `name=` parameter in `query` ('+' is a space);
// nullopt if absent. A parameter given without '=' has the value "". Malformed escapes are
// kept literally.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);

// Every value of `name=` in `query`, in order, percent-decoded (empty if absent).
std::vector<std::string> QueryParams(std::string_view query, std::string_view name);

// The (raw) names of every parameter in `query`, in order, repeats included.
std::vector<std::string_view> QueryNames(std::string_view query);

// page_size: 0 (the service default) when absent or empty; kInvalidArgument naming
// "page_size" if it is not a base-10 integer or is below 1. The upper bound is the
// service's (RunService returns kInvalidArgument above its maximum).
Result<int64_t> ParsePageSize(std::string_view query);

// offset of the log endpoint: 0 when absent; kInvalidArgument naming "offset" otherwise.
Result<int64_t> ParseOffset(std::string_view query);

// Parses a non-negative base-10 int64 (no sign, no spaces); nullopt otherwise.
std::optional<int64_t> ParseNonNegativeInt(std::string_view s);

}  // namespace sluice::api
