#include "cli/sse.h"

#include <charconv>

namespace sluice::cli {

std::vector<SseEvent> SseParser::Feed(std::string_view chunk) {
  std::vector<SseEvent> out;
  size_t i = 0;
  if (skip_lf_ && !chunk.empty() && chunk.front() == '\n') i = 1;
  skip_lf_ = false;
  size_t start = i;
  for (; i < chunk.size(); ++i) {
    char c = chunk[i];
    if (c != '\n' && c != '\r') continue;
    partial_.append(chunk.data() + start, i - start);
    Line(partial_, out);
    partial_.clear();
    if (c == '\r') {
      if (i + 1 < chunk.size()) {
        if (chunk[i + 1] == '\n') ++i;
      } else {
        skip_lf_ = true;
      }
    }
    start = i + 1;
  }
  if (start < chunk.size()) partial_.append(chunk.data() + start, chunk.size() - start);
  return out;
}

void SseParser::Line(std::string_view line, std::vector<SseEvent>& out) {
  if (line.empty()) {
    if (has_data_ || !current_.event.empty() || !current_.id.empty()) {
      if (current_.event.empty()) current_.event = "message";
      out.push_back(std::move(current_));
    }
    current_ = SseEvent();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // a comment (keep-alive)
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) current_.data += '\n';
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event = std::string(value);
  } else if (field == "id") {
    current_.id = std::string(value);
  } else if (field == "retry") {
    long ms = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (ec == std::errc() && end == value.data() + value.size()) retry_ms_ = ms;
  }
}

}  // namespace sluice::cli
