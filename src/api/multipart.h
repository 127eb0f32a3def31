// A multipart/form-data (RFC 7578 over RFC 2046) parser for POST /runs, plus the header
// parameter parser it shares with Content-Type handling.
//
// The parser works on the whole body in memory (the server has already bounded its size) and
// returns parts that point into it: it copies nothing but names. Delimiters must be CRLF
// framed; part contents are binary-safe (CR, LF and "--" inside a part are preserved). File
// names are preserved as sent, including directories and "..": deciding which names are
// acceptable is the service's job.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::api {

// A header value of the form `type; p1=v1; p2="v 2"` (Content-Type, Content-Disposition).
struct HeaderValue {
  std::string type;  // lower-cased, e.g. "multipart/form-data", "form-data"
  // Parameter names lower-cased; values unquoted (quoted-pair \" and \\ unescaped, any
  // other backslash kept, so Windows paths survive) and otherwise verbatim.
  std::vector<std::pair<std::string, std::string>> params;

  // The first parameter called `name` (lower-case), or nullopt.
  std::optional<std::string> Param(std::string_view name) const;
};

// kInvalidArgument (naming `what`) when the value is malformed.
Result<HeaderValue> ParseHeaderValue(std::string_view value, std::string_view what);

// The boundary of a multipart Content-Type (token or quoted form). kInvalidArgument naming
// "Content-Type" if absent, empty, longer than 70 characters, or not multipart.
Result<std::string> BoundaryFromContentType(std::string_view content_type);

struct MultipartPart {
  std::string name;                     // Content-Disposition name
  std::optional<std::string> filename;  // Content-Disposition filename (or filename*), if any
  std::string content_type;             // the part's Content-Type, "" if absent
  std::string_view data;                // the part's bytes, pointing into the parsed body
};

struct MultipartLimits {
  size_t max_parts = 10000;
  size_t max_part_header_bytes = 16 * 1024;
};

// Parses `body` delimited by `boundary`. kInvalidArgument ("multipart body: ...") for a missing
// opening or closing delimiter (a truncated body), malformed part headers, or a part without a
// form-data Content-Disposition name; kPayloadTooLarge when a limit is exceeded. Preamble and
// epilogue are ignored.
Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body, std::string_view boundary,
                                                  const MultipartLimits& limits = {});

}  // namespace sluice::api
