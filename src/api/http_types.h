// Plain request/response types shared by the router and the handlers, so handlers never see a
// Beast type (Beast stays inside http_server.cc) and can be unit-tested with plain structs.
//
// Thread-safety: values. An HttpRequest borrows (string_view) from the connection's buffers and
// is valid only while its handler runs.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace sluice::api {

enum class HttpMethod { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

std::string_view MethodName(HttpMethod method);

inline constexpr std::string_view kJsonType = "application/json";
inline constexpr std::string_view kTextType = "text/plain; charset=utf-8";
inline constexpr std::string_view kEventStreamType = "text/event-stream";

struct HttpRequest {
  HttpMethod method = HttpMethod::kGet;
  std::string_view path;   // without the query, as sent (not percent-decoded)
  std::string_view query;  // after '?', "" if none
  std::string_view host;   // Host header ("" if absent)
  std::string_view content_type;
  std::string_view idempotency_key;
  std::string_view last_event_id;  // the Last-Event-ID header of an SSE reconnect ("" if none)
  std::string_view body;
};

// Path parameters captured by "{}" segments of a route pattern, in order.
struct PathParams {
  static constexpr int kMax = 4;
  std::array<std::string_view, kMax> values;
  int count = 0;
  std::string_view operator[](int i) const { return values[i]; }
};

struct HttpResponse {
  int status = 200;
  std::string_view content_type = kJsonType;  // must point to static storage
  std::string body;
  std::string allow;  // the Allow header of a 405
  // When file_path is set, the response body is that file from byte file_offset to its end
  // (streamed by the server), and `body` is ignored.
  std::string file_path;
  uint64_t file_offset = 0;
  int retry_after_seconds = 0;  // > 0 adds Retry-After (429/503)

  // Makes the response reusable for the next request without freeing its buffers.
  void Reset() {
    status = 200;
    content_type = kJsonType;
    body.clear();
    allow.clear();
    file_path.clear();
    file_offset = 0;
    retry_after_seconds = 0;
  }
};

// The body of a streaming response (Server-Sent Events). The server writes a 200 head with
// Content-Type text/event-stream and no length, calls Start once, then calls Pull whenever
// `wake` was called (and after each write), writing whatever Pull appended, until Pull returns
// false or the client goes away. Destroying the body ends whatever it subscribed to.
//
// Thread-safety: Start and Pull run on the connection's strand, one at a time, and must not
// block; `wake` may be called from any thread, any number of times, even after the stream
// ended (it then does nothing).
class StreamBody {
 public:
  virtual ~StreamBody() = default;
  virtual void Start(std::function<void()> wake) = 0;
  // Appends the bytes ready to go to `out`. Returns false when the stream is over (after
  // appending its last bytes).
  virtual bool Pull(std::string& out) = 0;
};

}  // namespace sluice::api
