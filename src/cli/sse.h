// A Server-Sent Events parser (the WHATWG event-stream format) for `sluice watch`: bytes in,
// complete events out. Handles LF, CRLF and CR line ends, comments, multi-line data and
// events split across chunks; `retry:` is remembered.
//
// Thread-safety: not thread-safe; one parser per stream.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::cli {

struct SseEvent {
  std::string id;     // the event's `id:` ("" if it had none)
  std::string event;  // `event:` ("message" if it had none)
  std::string data;   // the `data:` lines joined with '\n'
};

class SseParser {
 public:
  // Feeds bytes; returns the events they completed, in order.
  std::vector<SseEvent> Feed(std::string_view chunk);
  // The last `retry:` hint in milliseconds (0 if none).
  long retry_ms() const { return retry_ms_; }

 private:
  void Line(std::string_view line, std::vector<SseEvent>& out);

  std::string partial_;   // an incomplete line
  bool skip_lf_ = false;  // the last chunk ended in CR: a leading LF belongs to it
  SseEvent current_;
  bool has_data_ = false;
  long retry_ms_ = 0;
};

}  // namespace sluice::cli
