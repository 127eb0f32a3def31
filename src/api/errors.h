// The one mapping from Status codes to HTTP status codes, and the WES ErrorResponse body
// ({"msg": ..., "status_code": N}) every error of the API uses.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "api/http_types.h"
#include "common/status.h"

namespace sluice::api {

// InvalidArgument 400, NotFound 404, AlreadyExists/FailedPrecondition/Conflict 409,
// PayloadTooLarge 413, ResourceExhausted 429, Unavailable 503, anything else 500. kOk is 200.
int HttpStatusFor(StatusCode code);

// The ErrorResponse JSON text.
std::string ErrorResponseJson(std::string_view msg, int http_status);

// Turns `res` into an ErrorResponse for `status` (which must not be OK).
void SetError(HttpResponse& res, const Status& status);
void SetError(HttpResponse& res, int http_status, std::string_view msg);

}  // namespace sluice::api
