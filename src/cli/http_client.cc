#include "cli/http_client.h"

#include <curl/curl.h>

#include <cstring>
#include <memory>

#include "cli/args.h"
#include "cli/curl_library.h"

namespace sluice::cli {
namespace {

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Only made once the library is loaded, so Curl() cannot fail in them.
struct SlistDeleter {
  void operator()(curl_slist* list) const { (*Curl())->slist_free_all(list); }
};
struct MimeDeleter {
  void operator()(curl_mime* mime) const { (*Curl())->mime_free(mime); }
};

}  // namespace

HttpClient::HttpClient(std::string base_url, HttpClientOptions options)
    : base_url_(std::move(base_url)), options_(options) {}

HttpClient::~HttpClient() {
  // A handle exists only if the library was loaded.
  if (curl_ != nullptr) (*Curl())->easy_cleanup(static_cast<CURL*>(curl_));
}

Result<HttpResponse> HttpClient::Get(std::string_view path) {
  return Perform(Method::kGet, path, "", nullptr, {});
}

Result<HttpResponse> HttpClient::PostJson(std::string_view path, std::string_view json_body) {
  return Perform(Method::kPostJson, path, json_body, nullptr, {});
}

Result<HttpResponse> HttpClient::PostMultipart(std::string_view path,
                                               const std::vector<FormPart>& parts,
                                               const std::vector<std::string>& headers) {
  return Perform(Method::kPostMultipart, path, "", &parts, headers);
}

namespace {

struct StreamState {
  const CurlLibrary* lib = nullptr;
  CURL* curl = nullptr;
  HttpResponse* response = nullptr;
  const std::function<bool(std::string_view)>* on_data = nullptr;
  bool stopped = false;
};

size_t StreamBody(char* data, size_t size, size_t count, void* user) {
  auto* st = static_cast<StreamState*>(user);
  size_t n = size * count;
  long status = 0;
  st->lib->easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300) {
    st->response->body.append(data, n);
    return n;
  }
  if (!(*st->on_data)(std::string_view(data, n))) {
    st->stopped = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  return n;
}

}  // namespace

Result<HttpResponse> HttpClient::GetStream(std::string_view path,
                                           const std::vector<std::string>& headers,
                                           const std::function<bool(std::string_view)>& on_data) {
  ASSIGN_OR_RETURN(const CurlLibrary* lib, Curl());
  if (curl_ == nullptr) curl_ = lib->easy_init();
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return Internal("cannot initialise libcurl");
  lib->easy_reset(curl);

  std::string url = JoinUrl(base_url_, path);
  HttpResponse response;
  StreamState state{lib, curl, &response, &on_data, false};
  char error_buffer[CURL_ERROR_SIZE] = {0};
  std::unique_ptr<curl_slist, SlistDeleter> header_list;
  auto add_header = [&](const std::string& line) {
    header_list.reset(lib->slist_append(header_list.release(), line.c_str()));
  };
  add_header("Accept: text/event-stream");
  for (const std::string& h : headers) add_header(h);

  lib->easy_setopt(curl, CURLOPT_URL, url.c_str());
  lib->easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  lib->easy_setopt(curl, CURLOPT_WRITEFUNCTION, &StreamBody);
  lib->easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  lib->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  lib->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
  lib->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  lib->easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  lib->easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  lib->easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options_.stall_seconds);
  lib->easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());

  CURLcode rc = lib->easy_perform(curl);
  lib->easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  lib->easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  lib->easy_setopt(curl, CURLOPT_WRITEDATA, nullptr);
  lib->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && state.stopped)) return response;
  std::string reason = error_buffer[0] != '\0' ? error_buffer : lib->easy_strerror(rc);
  if (rc == CURLE_COULDNT_CONNECT) {
    long os_errno = 0;
    lib->easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
    if (os_errno != 0) reason = std::strerror(static_cast<int>(os_errno));
    return Unavailable("cannot reach " + base_url_ + ": " + reason +
                       " (is `sluice serve` running?)");
  }
  return Unavailable("request to " + url + " failed: " + reason);
}

Result<HttpResponse> HttpClient::Perform(Method method, std::string_view path,
                                         std::string_view body, const std::vector<FormPart>* parts,
                                         const std::vector<std::string>& headers) {
  ASSIGN_OR_RETURN(const CurlLibrary* lib, Curl());
  if (curl_ == nullptr) curl_ = lib->easy_init();
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return Internal("cannot initialise libcurl");
  lib->easy_reset(curl);

  std::string url = JoinUrl(base_url_, path);
  HttpResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {0};

  std::unique_ptr<curl_slist, SlistDeleter> header_list;
  auto add_header = [&](const std::string& line) {
    header_list.reset(lib->slist_append(header_list.release(), line.c_str()));
  };
  add_header("Accept: application/json");
  // Without this libcurl waits for "100 Continue" before sending large bodies.
  add_header("Expect:");
  for (const std::string& h : headers) add_header(h);

  lib->easy_setopt(curl, CURLOPT_URL, url.c_str());
  lib->easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  lib->easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendBody);
  lib->easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  lib->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  lib->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
  lib->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");

  std::unique_ptr<curl_mime, MimeDeleter> mime;
  switch (method) {
    case Method::kGet:
      lib->easy_setopt(curl, CURLOPT_HTTPGET, 1L);
      lib->easy_setopt(curl, CURLOPT_TIMEOUT_MS, options_.request_timeout_ms);
      break;
    case Method::kPostJson:
      add_header("Content-Type: application/json");
      lib->easy_setopt(curl, CURLOPT_POST, 1L);
      lib->easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
      lib->easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      lib->easy_setopt(curl, CURLOPT_TIMEOUT_MS, options_.request_timeout_ms);
      break;
    case Method::kPostMultipart:
      mime.reset(lib->mime_init(curl));
      for (const FormPart& part : *parts) {
        curl_mimepart* p = lib->mime_addpart(mime.get());
        lib->mime_name(p, part.name.c_str());
        if (part.file_path.empty()) {
          lib->mime_data(p, part.value.data(), part.value.size());
        } else {
          if (lib->mime_filedata(p, part.file_path.c_str()) != CURLE_OK) {
            return InvalidArgument("cannot read " + part.file_path);
          }
          lib->mime_filename(p, part.filename.c_str());
        }
      }
      lib->easy_setopt(curl, CURLOPT_MIMEPOST, mime.get());
      lib->easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
      lib->easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options_.stall_seconds);
      break;
  }
  lib->easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());

  CURLcode rc = lib->easy_perform(curl);
  // The handle outlives this call; drop pointers into locals before they go away.
  lib->easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  lib->easy_setopt(curl, CURLOPT_MIMEPOST, nullptr);
  lib->easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  lib->easy_setopt(curl, CURLOPT_WRITEDATA, nullptr);

  if (rc != CURLE_OK) {
    std::string reason;
    long os_errno = 0;
    lib->easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
    if (rc == CURLE_COULDNT_CONNECT && os_errno != 0) {
      reason = std::strerror(static_cast<int>(os_errno));
    } else if (error_buffer[0] != '\0') {
      reason = error_buffer;
    } else {
      reason = lib->easy_strerror(rc);
    }
    if (rc == CURLE_COULDNT_CONNECT) {
      return Unavailable("cannot reach " + base_url_ + ": " + reason +
                         " (is `sluice serve` running?)");
    }
    if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_URL_MALFORMAT ||
        rc == CURLE_UNSUPPORTED_PROTOCOL) {
      return Unavailable("cannot reach " + base_url_ + ": " + reason);
    }
    return Unavailable("request to " + url + " failed: " + reason);
  }
  lib->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace sluice::cli
