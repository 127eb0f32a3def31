#include "api/errors.h"

#include <nlohmann/json.hpp>

namespace sluice::api {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kPayloadTooLarge:
      return 413;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kInternal:
    case StatusCode::kIo:
      return 500;
    case StatusCode::kOutOfRange:
      return 410;
  }
  return 500;
}

std::string ErrorResponseJson(std::string_view msg, int http_status) {
  nlohmann::json j;
  j["msg"] = msg;
  j["status_code"] = http_status;
  // Messages can echo request bytes; replace invalid UTF-8 rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void SetError(HttpResponse& res, int http_status, std::string_view msg) {
  res.status = http_status;
  res.content_type = kJsonType;
  res.file_path.clear();
  res.body = ErrorResponseJson(msg, http_status);
  if (http_status == 429 || http_status == 503) res.retry_after_seconds = 1;
}

void SetError(HttpResponse& res, const Status& status) {
  SetError(res, HttpStatusFor(status.code()), status.message());
}

}  // namespace sluice::api
