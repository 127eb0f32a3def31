// Turns the body of POST /ga4gh/wes/v1/runs into a service::SubmitRequest. Accepts the WES
// multipart/form-data form (every RunRequest field as a text part, workflow_params, tags and
// workflow_engine_parameters as JSON text; workflow_attachment repeatable with its file name
// from Content-Disposition) and, as an extension, application/json with the same fields as JSON
// values (no attachments).
//
// Checks here are the ones about the shape of the request: required fields present, JSON fields
// well-formed and of the right type, no unknown or repeated fields. Whether the workflow type,
// version and attachment names are acceptable is the service's job.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "common/status.h"
#include "service/run_service.h"

namespace sluice::api {

// kInvalidArgument naming the field ("workflow_url: required", "tags: must be a JSON object of
// strings", "unknown form field 'foo'") or the header ("Content-Type: ..."); kPayloadTooLarge
// from multipart limits. The idempotency key is left empty (it comes from a header).
Result<service::SubmitRequest> ParseSubmitRequest(std::string_view content_type,
                                                  std::string_view body);

Result<service::SubmitRequest> ParseSubmitMultipart(std::string_view content_type,
                                                    std::string_view body);
Result<service::SubmitRequest> ParseSubmitJson(std::string_view body);

}  // namespace sluice::api
