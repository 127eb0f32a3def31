#include "cli/args.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace sluice::cli {

Result<std::pair<std::string, std::string>> ParseKeyValue(std::string_view text,
                                                          std::string_view flag) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return InvalidArgument(std::string(flag) + ": expected KEY=VALUE, got \"" + std::string(text) +
                           "\"");
  }
  return std::pair{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

Result<Json> KeyValuesToJson(const std::vector<std::string>& items, std::string_view flag) {
  Json out = Json::object();
  for (const std::string& item : items) {
    ASSIGN_OR_RETURN(auto kv, ParseKeyValue(item, flag));
    if (out.contains(kv.first)) {
      return InvalidArgument(std::string(flag) + ": key \"" + kv.first + "\" given twice");
    }
    out[kv.first] = kv.second;
  }
  return out;
}

Result<std::string> AttachmentName(std::string_view path) {
  std::vector<std::string_view> parts;
  bool has_parent_ref = false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(start, slash - start);
    if (part == "..") has_parent_ref = true;
    if (!part.empty() && part != ".") parts.push_back(part);
    start = slash + 1;
  }
  bool trailing_slash = !path.empty() && path.back() == '/';
  if (parts.empty() || trailing_slash || parts.back() == "..") {
    return InvalidArgument("--attach: \"" + std::string(path) + "\" does not name a file");
  }
  bool absolute = !path.empty() && path.front() == '/';
  if (absolute || has_parent_ref) return std::string(parts.back());
  std::string name;
  for (std::string_view part : parts) {
    if (!name.empty()) name += '/';
    name += part;
  }
  return name;
}

std::string JoinUrl(std::string_view base, std::string_view path) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  std::string url(base);
  if (path.empty()) return url;
  if (path.front() != '/') url += '/';
  url += path;
  return url;
}

std::string EscapeUrlComponent(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : text) {
    bool unreserved = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
    if (unreserved) {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 0xF];
    }
  }
  return out;
}

Result<std::string> ReadTextFile(const std::string& path, std::string_view what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return InvalidArgument(std::string(what) + ": " + path + " is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return InvalidArgument(std::string(what) + ": cannot read " + path + ": " +
                           std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return InvalidArgument(std::string(what) + ": cannot read " + path + ": " +
                           std::strerror(errno));
  }
  return text.str();
}

std::vector<std::string> MoveClientOptionsAfterSubcommand(std::vector<std::string> args) {
  std::vector<std::string> moved;
  size_t i = 1;
  while (i < args.size()) {
    const std::string& arg = args[i];
    if (arg == "--json" || arg.starts_with("--server=")) {
      moved.push_back(arg);
      ++i;
    } else if (arg == "--server" && i + 1 < args.size()) {
      moved.push_back(arg);
      moved.push_back(args[i + 1]);
      i += 2;
    } else {
      break;
    }
  }
  if (moved.empty() || i >= args.size()) return args;  // nothing to move, or no subcommand
  std::vector<std::string> out;
  out.reserve(args.size());
  out.push_back(args[0]);
  out.push_back(args[i]);
  out.insert(out.end(), moved.begin(), moved.end());
  out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
  return out;
}

}  // namespace sluice::cli
