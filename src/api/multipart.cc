#include "api/multipart.h"

#include <algorithm>
#include <functional>

namespace sluice::api {
namespace {

bool IsTokenChar(char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::string_view("!#$%&'*+-.^_`|~/").find(c) != std::string_view::npos;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

void SkipSpace(std::string_view s, size_t& i) {
  while (i < s.size() && IsSpace(s[i])) ++i;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = Lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// RFC 5987 ext-value: charset'lang'pct-encoded. Only UTF-8 (and its ASCII subset) is accepted.
std::optional<std::string> DecodeExtValue(std::string_view v) {
  size_t q1 = v.find('\'');
  if (q1 == std::string_view::npos) return std::nullopt;
  size_t q2 = v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return std::nullopt;
  std::string charset = ToLower(v.substr(0, q1));
  if (charset != "utf-8" && charset != "us-ascii") return std::nullopt;
  std::string out;
  for (size_t i = q2 + 1; i < v.size(); ++i) {
    if (v[i] == '%') {
      if (i + 2 >= v.size()) return std::nullopt;
      int hi = HexValue(v[i + 1]), lo = HexValue(v[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(v[i]);
    }
  }
  return out;
}

}  // namespace

std::optional<std::string> HeaderValue::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return std::nullopt;
}

Result<HeaderValue> ParseHeaderValue(std::string_view value, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(std::string(what) + ": " + std::string(why));
  };
  HeaderValue out;
  size_t i = 0;
  SkipSpace(value, i);
  size_t start = i;
  while (i < value.size() && IsTokenChar(value[i])) ++i;
  if (i == start) return bad("missing type");
  out.type = ToLower(value.substr(start, i - start));
  SkipSpace(value, i);
  while (i < value.size()) {
    if (value[i] != ';') return bad("expected ';' before parameter");
    ++i;
    SkipSpace(value, i);
    if (i == value.size()) break;  // a trailing ';' is common and harmless
    start = i;
    while (i < value.size() && IsTokenChar(value[i]) && value[i] != '=') ++i;
    if (i == start) return bad("missing parameter name");
    std::string name = ToLower(value.substr(start, i - start));
    SkipSpace(value, i);
    if (i == value.size() || value[i] != '=') return bad("parameter '" + name + "' has no value");
    ++i;
    SkipSpace(value, i);
    std::string v;
    if (i < value.size() && value[i] == '"') {
      ++i;
      bool closed = false;
      while (i < value.size()) {
        char c = value[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < value.size() && (value[i] == '"' || value[i] == '\\')) {
          v.push_back(value[i++]);
        } else {
          v.push_back(c);
        }
      }
      if (!closed) return bad("unterminated quoted value of '" + name + "'");
    } else {
      start = i;
      while (i < value.size() && value[i] != ';' && !IsSpace(value[i])) ++i;
      v.assign(value.substr(start, i - start));
    }
    out.params.emplace_back(std::move(name), std::move(v));
    SkipSpace(value, i);
  }
  return out;
}

Result<std::string> BoundaryFromContentType(std::string_view content_type) {
  ASSIGN_OR_RETURN(HeaderValue hv, ParseHeaderValue(content_type, "Content-Type"));
  if (hv.type.rfind("multipart/", 0) != 0) {
    return InvalidArgument("Content-Type: expected multipart/form-data, got '" + hv.type + "'");
  }
  std::optional<std::string> b = hv.Param("boundary");
  if (!b || b->empty()) return InvalidArgument("Content-Type: missing multipart boundary");
  if (b->size() > 70) return InvalidArgument("Content-Type: boundary longer than 70 characters");
  if (b->find_first_of("\r\n") != std::string::npos) {
    return InvalidArgument("Content-Type: boundary contains a line break");
  }
  return *std::move(b);
}

Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body, std::string_view boundary,
                                                  const MultipartLimits& limits) {
  auto bad = [](std::string why) { return InvalidArgument("multipart body: " + why); };
  if (boundary.empty()) return bad("empty boundary");

  // A delimiter is CRLF "--" boundary; the first one may also open the body.
  const std::string delim = "\r\n--" + std::string(boundary);
  const std::boyer_moore_horspool_searcher searcher(delim.begin(), delim.end());

  // True if the "--boundary" ending just before `after` is a real delimiter: followed by "--"
  // (the close) or by optional padding and CRLF. "--boundaryXYZ" merely looks like one.
  auto ends_delimiter = [&](size_t after) {
    std::string_view rest = body.substr(std::min(after, body.size()));
    if (rest.substr(0, 2) == "--") return true;
    size_t j = 0;
    while (j < rest.size() && IsSpace(rest[j])) ++j;
    return rest.substr(j, 2) == "\r\n";
  };
  // The offset of the CR of the next real delimiter at or after `from`, or npos.
  auto find_delim = [&](size_t from) -> size_t {
    while (from < body.size()) {
      auto it = std::search(body.begin() + from, body.end(), searcher);
      if (it == body.end()) return std::string_view::npos;
      size_t at = static_cast<size_t>(it - body.begin());
      if (ends_delimiter(at + delim.size())) return at;
      from = at + 1;
    }
    return std::string_view::npos;
  };

  size_t pos;  // offset just past the "--boundary" of the current delimiter
  const std::string_view open = std::string_view(delim).substr(2);
  if (body.substr(0, open.size()) == open && ends_delimiter(open.size())) {
    pos = open.size();
  } else {
    size_t at = find_delim(0);
    if (at == std::string_view::npos) return bad("opening boundary not found");
    pos = at + delim.size();
  }

  std::vector<MultipartPart> parts;
  while (true) {
    if (body.substr(pos, 2) == "--") break;  // close delimiter; the epilogue is ignored
    while (pos < body.size() && IsSpace(body[pos])) ++pos;
    if (body.substr(pos, 2) != "\r\n") {
      if (pos >= body.size()) return bad("truncated after a boundary");
      return bad("boundary line not followed by CRLF");
    }
    pos += 2;
    if (parts.size() >= limits.max_parts) {
      return PayloadTooLarge("multipart body: more than " + std::to_string(limits.max_parts) +
                             " parts");
    }
    const std::string part_label = "part " + std::to_string(parts.size() + 1);

    // Part headers end at an empty line.
    size_t content_start;
    std::string_view headers;
    if (body.substr(pos, 2) == "\r\n") {
      content_start = pos + 2;
    } else {
      size_t end = body.find("\r\n\r\n", pos);
      if (end == std::string_view::npos) return bad(part_label + ": truncated headers");
      if (end - pos > limits.max_part_header_bytes) {
        return PayloadTooLarge("multipart body: " + part_label + ": headers longer than " +
                               std::to_string(limits.max_part_header_bytes) + " bytes");
      }
      headers = body.substr(pos, end - pos);
      content_start = end + 4;
    }

    MultipartPart part;
    bool has_disposition = false;
    while (!headers.empty()) {
      size_t eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        return bad(part_label + ": malformed header line");
      }
      std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 1);
      if (EqualsIgnoreCase(name, "Content-Disposition")) {
        ASSIGN_OR_RETURN(HeaderValue hv, ParseHeaderValue(value, "multipart body: " + part_label +
                                                                     ": Content-Disposition"));
        if (hv.type != "form-data") {
          return bad(part_label + ": Content-Disposition is '" + hv.type + "', not form-data");
        }
        std::optional<std::string> n = hv.Param("name");
        if (!n || n->empty()) return bad(part_label + ": Content-Disposition has no name");
        part.name = *std::move(n);
        part.filename = hv.Param("filename");
        if (!part.filename) {
          if (std::optional<std::string> ext = hv.Param("filename*")) {
            part.filename = DecodeExtValue(*ext);
            if (!part.filename) return bad(part_label + ": malformed filename*");
          }
        }
        has_disposition = true;
      } else if (EqualsIgnoreCase(name, "Content-Type")) {
        size_t b = value.find_first_not_of(" \t");
        part.content_type = b == std::string_view::npos ? "" : std::string(value.substr(b));
        while (!part.content_type.empty() && IsSpace(part.content_type.back())) {
          part.content_type.pop_back();
        }
      }
      // Other headers (Content-Transfer-Encoding is deprecated by RFC 7578) are ignored.
    }
    if (!has_disposition) return bad(part_label + ": missing Content-Disposition");

    size_t at = find_delim(content_start);
    if (at == std::string_view::npos) {
      return bad(part_label + ": truncated (closing boundary not found)");
    }
    part.data = body.substr(content_start, at - content_start);
    parts.push_back(std::move(part));
    pos = at + delim.size();
  }
  return parts;
}

}  // namespace sluice::api
