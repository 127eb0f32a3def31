// Exit codes of the `sluice` command, and the one place that decides them from an error.
// Scripts rely on these numbers; they only ever gain new values.
// Thread-safety: pure functions.
#pragma once

#include "common/status.h"

namespace sluice::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitRunNotComplete = 1,  // watch / submit --wait: the run ended, but not COMPLETE
  kExitUsage = 2,           // bad arguments or input the server refused (HTTP 400/413)
  kExitNotFound = 3,        // HTTP 404
  kExitConflict = 4,        // HTTP 409 (e.g. canceling an ended run)
  kExitServer = 5,          // server error (5xx) or the server could not be reached
};

// The exit code for an error. The CLI turns every failure into a Status first: local
// validation (kInvalidArgument), transport failures (kUnavailable) and HTTP error responses
// (via StatusCodeFromHttp), so this is the only mapping to exit codes.
int ExitCodeFor(StatusCode code);

// The StatusCode an HTTP error response stands for (the inverse of the server's mapping).
// 2xx -> kOk; unknown 4xx -> kInvalidArgument; unknown 5xx and anything else -> kInternal.
StatusCode StatusCodeFromHttp(long http_status);

}  // namespace sluice::cli
