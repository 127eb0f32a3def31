#include "api/query.h"

#include <charconv>

namespace sluice::api {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<int64_t> ParseIntParam(std::string_view query, std::string_view name) {
  std::optional<std::string> v = QueryParam(query, name);
  if (!v || v->empty()) return int64_t{0};
  std::optional<int64_t> n = ParseNonNegativeInt(*v);
  if (!n) {
    std::string shown = v->size() > 40 ? v->substr(0, 40) + "..." : *v;
    return InvalidArgument(std::string(name) + ": must be a non-negative integer, got '" + shown +
                           "'");
  }
  return *n;
}

}  // namespace

std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key != name) continue;
    if (eq == std::string_view::npos) return std::string();
    return PercentDecode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

std::vector<std::string> QueryParams(std::string_view query, std::string_view name) {
  std::vector<std::string> values;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    values.push_back(eq == std::string_view::npos ? std::string()
                                                  : PercentDecode(pair.substr(eq + 1)));
  }
  return values;
}

std::vector<std::string_view> QueryNames(std::string_view query) {
  std::vector<std::string_view> names;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (!pair.empty()) names.push_back(pair.substr(0, pair.find('=')));
  }
  return names;
}

std::optional<int64_t> ParseNonNegativeInt(std::string_view s) {
  if (s.empty() || s.front() < '0' || s.front() > '9') return std::nullopt;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return n;
}

Result<int64_t> ParsePageSize(std::string_view query) {
  ASSIGN_OR_RETURN(int64_t size, ParseIntParam(query, "page_size"));
  // 0 stands for "not given" below; given, it would ask for pages of nothing.
  if (size == 0 && QueryParam(query, "page_size").value_or("") != "") {
    return InvalidArgument("page_size: must be at least 1, got 0");
  }
  return size;
}

Result<int64_t> ParseOffset(std::string_view query) { return ParseIntParam(query, "offset"); }

}  // namespace sluice::api
