// A small blocking HTTP client over libcurl for the `sluice` command: GET, POST with a JSON
// body, and multipart/form-data POST with file parts. Any HTTP status is a successful
// Result (the caller decides what a 404 means); only transport failures are errors.
//
// Thread-safety: not thread-safe; one HttpClient per thread. It reuses one connection
// between calls, which keeps `sluice watch` polling cheap.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::cli {

struct HttpResponse {
  long status = 0;  // HTTP status code
  std::string body;
};

// One part of a multipart/form-data body: text `value`, or, when `file_path` is set, the
// file's content sent with `filename` in its Content-Disposition.
struct FormPart {
  std::string name;
  std::string value;
  std::string file_path;
  std::string filename;
};

struct HttpClientOptions {
  long connect_timeout_ms = 10'000;
  // Whole-request limit for GET and JSON POST; 0 means none. Uploads have no limit but
  // give up on a connection that transfers nothing for `stall_seconds`.
  long request_timeout_ms = 60'000;
  long stall_seconds = 60;
};

class HttpClient {
 public:
  // `base_url` ("http://127.0.0.1:8080") is prefixed to every path.
  explicit HttpClient(std::string base_url, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  const std::string& base_url() const { return base_url_; }

  // `path` starts with '/' and may carry a query string (already escaped).
  // All return kUnavailable when the server cannot be reached or the transfer fails:
  // "cannot reach http://h:p: Connection refused (is `sluice serve` running?)".
  Result<HttpResponse> Get(std::string_view path);
  Result<HttpResponse> PostJson(std::string_view path, std::string_view json_body);
  // `headers` are extra "Name: value" lines.
  Result<HttpResponse> PostMultipart(std::string_view path, const std::vector<FormPart>& parts,
                                     const std::vector<std::string>& headers);
  // A GET whose 2xx body is handed to `on_data` chunk by chunk as it arrives (a Server-Sent
  // Events stream); `on_data` returns false to stop reading, which is not an error. A non-2xx
  // response is returned whole, without calling `on_data`. No overall time limit: it gives
  // up on a connection silent for `stall_seconds`.
  Result<HttpResponse> GetStream(std::string_view path, const std::vector<std::string>& headers,
                                 const std::function<bool(std::string_view)>& on_data);

 private:
  enum class Method { kGet, kPostJson, kPostMultipart };
  Result<HttpResponse> Perform(Method method, std::string_view path, std::string_view body,
                               const std::vector<FormPart>* parts,
                               const std::vector<std::string>& headers);

  std::string base_url_;
  HttpClientOptions options_;
  void* curl_ = nullptr;  // CURL*, made on first use; opaque so curl.h stays out of here
};

}  // namespace sluice::cli
