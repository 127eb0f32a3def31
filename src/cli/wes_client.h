// Typed calls to the Sluice server's REST API (WES 1.1 under /ga4gh/wes/v1 plus the
// /api/v1 extensions) for the CLI subcommands. Successful calls return the parsed JSON
// body; an HTTP error response becomes a Status whose code follows the HTTP status
// (StatusCodeFromHttp) and whose message is "<http status>: <ErrorResponse.msg>".
//
// Thread-safety: as thread-safe as the HttpClient it uses (not).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cli/http_client.h"
#include "common/json.h"
#include "common/status.h"

namespace sluice::cli {

inline constexpr std::string_view kWesPrefix = "/ga4gh/wes/v1";

// The error for a non-2xx response: the ErrorResponse's msg when the body has one, else the
// body's first line, else "HTTP <status>".
Status ErrorFromResponse(const HttpResponse& response);

// A run submission: the multipart form fields and files of POST /runs.
struct SubmitForm {
  std::vector<FormPart> parts;
  std::string idempotency_key;  // sent as the Idempotency-Key header when not empty
};

class WesClient {
 public:
  explicit WesClient(HttpClient& http) : http_(http) {}

  const std::string& server() const { return http_.base_url(); }

  Result<Json> Submit(const SubmitForm& form);         // RunId
  Result<Json> GetRunLog(std::string_view run_id);     // RunLog
  Result<Json> GetRunStatus(std::string_view run_id);  // RunStatus
  Result<Json> Cancel(std::string_view run_id);        // RunId
  // page_size 0 lets the server choose; RunListResponse.
  Result<Json> ListRuns(int64_t page_size, std::string_view page_token);
  // GET /api/v1/runs with `query` (already escaped, without '?'): the filtered listing.
  Result<Json> ListRunsIndexed(std::string_view query);
  // TaskListResponse.
  Result<Json> ListTasks(std::string_view run_id, int64_t page_size, std::string_view page_token);
  // One task: the WES TaskLog object (id, name, state, exit_code, ...).
  Result<Json> GetTask(std::string_view run_id, std::string_view task_id);
  // Every task of a run, following next_page_token.
  Result<std::vector<Json>> ListAllTasks(std::string_view run_id);
  // The run's whole audit trail (GET /api/v1/runs/{id}/audit, every page): its changes,
  // oldest first.
  Result<std::vector<Json>> ListAudit(std::string_view run_id);
  // The captured "stdout" or "stderr" of a task, as text, from byte `offset` on.
  Result<std::string> TaskLog(std::string_view run_id, std::string_view task_id,
                              std::string_view stream, uint64_t offset = 0);

 private:
  // Checks the status and parses the body as JSON.
  Result<Json> Decode(Result<HttpResponse> response);
  // GETs `path` page after page (page_token), collecting the array `field` of every page.
  Result<std::vector<Json>> CollectPages(const std::string& path, const char* field,
                                         const char* what);

  HttpClient& http_;
};

}  // namespace sluice::cli
