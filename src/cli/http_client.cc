#include "cli/http_client.h"

#include <curl/curl.h>

#include <cstring>
#include <memory>

#include "cli/args.h"

namespace sluice::cli {
namespace {

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct MimeDeleter {
  void operator()(curl_mime* mime) const { curl_mime_free(mime); }
};

}  // namespace

HttpClient::HttpClient(std::string base_url, HttpClientOptions options)
    : base_url_(std::move(base_url)), options_(options), curl_(curl_easy_init()) {}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
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

Result<HttpResponse> HttpClient::Perform(Method method, std::string_view path,
                                         std::string_view body, const std::vector<FormPart>* parts,
                                         const std::vector<std::string>& headers) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) return Internal("cannot initialise libcurl");
  curl_easy_reset(curl);

  std::string url = JoinUrl(base_url_, path);
  HttpResponse response;
  char error_buffer[CURL_ERROR_SIZE] = {0};

  std::unique_ptr<curl_slist, SlistDeleter> header_list;
  auto add_header = [&](const std::string& line) {
    header_list.reset(curl_slist_append(header_list.release(), line.c_str()));
  };
  add_header("Accept: application/json");
  // Without this libcurl waits for "100 Continue" before sending large bodies.
  add_header("Expect:");
  for (const std::string& h : headers) add_header(h);

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");

  std::unique_ptr<curl_mime, MimeDeleter> mime;
  switch (method) {
    case Method::kGet:
      curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
      curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, options_.request_timeout_ms);
      break;
    case Method::kPostJson:
      add_header("Content-Type: application/json");
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, options_.request_timeout_ms);
      break;
    case Method::kPostMultipart:
      mime.reset(curl_mime_init(curl));
      for (const FormPart& part : *parts) {
        curl_mimepart* p = curl_mime_addpart(mime.get());
        curl_mime_name(p, part.name.c_str());
        if (part.file_path.empty()) {
          curl_mime_data(p, part.value.data(), part.value.size());
        } else {
          if (curl_mime_filedata(p, part.file_path.c_str()) != CURLE_OK) {
            return InvalidArgument("cannot read " + part.file_path);
          }
          curl_mime_filename(p, part.filename.c_str());
        }
      }
      curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime.get());
      curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options_.stall_seconds);
      break;
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());

  CURLcode rc = curl_easy_perform(curl);
  // The handle outlives this call; drop pointers into locals before they go away.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_MIMEPOST, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, nullptr);

  if (rc != CURLE_OK) {
    std::string reason;
    long os_errno = 0;
    curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
    if (rc == CURLE_COULDNT_CONNECT && os_errno != 0) {
      reason = std::strerror(static_cast<int>(os_errno));
    } else if (error_buffer[0] != '\0') {
      reason = error_buffer;
    } else {
      reason = curl_easy_strerror(rc);
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
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace sluice::cli
