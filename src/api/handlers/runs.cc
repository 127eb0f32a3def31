// /ga4gh/wes/v1/runs: list, submit, get, status, cancel.
#include <optional>

#include "api/errors.h"
#include "api/handlers/handlers.h"
#include "api/list_params.h"
#include "api/query.h"
#include "api/submit_request.h"
#include "api/wes_json.h"
#include "service/run_service.h"

namespace sluice::api {
namespace {

constexpr size_t kMaxIdempotencyKey = 255;
// Larger bodies are parsed on the blocking pool: parsing them would hold up an I/O thread.
constexpr size_t kMaxInlineBody = 256 * 1024;

void SetJson(HttpResponse& res, const Json& j) {
  res.body = j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void SetRunId(HttpResponse& res, std::string_view run_id) {
  res.body = "{\"run_id\":";
  AppendJsonString(res.body, run_id);
  res.body += '}';
}

// The HTTP half of a submission: header checks and body parsing. On failure fills `res`.
std::optional<service::SubmitRequest> ParseSubmission(const HttpRequest& req, HttpResponse& res) {
  if (req.idempotency_key.size() > kMaxIdempotencyKey) {
    SetError(res, 400, "Idempotency-Key: longer than 255 characters");
    return std::nullopt;
  }
  Result<service::SubmitRequest> submit = ParseSubmitRequest(req.content_type, req.body);
  if (!submit.ok()) {
    SetError(res, submit.status());
    return std::nullopt;
  }
  submit->idempotency_key = std::string(req.idempotency_key);
  return *std::move(submit);
}

}  // namespace

void ListRuns(ApiContext& ctx, const HttpRequest& req, const PathParams&, HttpResponse& res) {
  // The WES listing; the index's filters (state, user, tag, ...) are accepted too, and
  // `total=true` adds total/total_is_estimate. Without them the WES fields are all there is.
  Result<RunListParams> params = ParseRunListParams(req.query, /*strict=*/false);
  if (!params.ok()) return SetError(res, params.status());
  Result<service::RunListPage> page =
      params->extended ? ctx.runs.ListRuns(params->request)
                       : ctx.runs.ListRuns(params->request.page_size, params->request.page_token);
  if (!page.ok()) return SetError(res, page.status());
  std::optional<ListTotal> total;
  if (params->request.total && page->total) total = ListTotal{page->total->count, page->total->exact};
  res.body = RunListBody(page->runs, page->next_page_token, total, &AppendRunSummaryJson);
}

void SubmitRun(ApiContext& ctx, const HttpRequest& req, const PathParams&, HttpResponse& res) {
  std::optional<service::SubmitRequest> submit = ParseSubmission(req, res);
  if (!submit) return;
  Result<store::CreateRunResult> created = ctx.runs.Submit(*std::move(submit));
  if (!created.ok()) return SetError(res, created.status());
  SetRunId(res, created->run_id);
}

StartOutcome StartSubmitRun(ApiContext& ctx, const HttpRequest& req, const PathParams&,
                            HttpResponse& res, Responder respond) {
  // A quick look first: a body that may carry attachments (their files need blocking writes)
  // goes to the blocking pool unparsed. The check after parsing is the one that decides.
  if (req.body.size() > kMaxInlineBody ||
      req.body.find("workflow_attachment") != std::string_view::npos) {
    return StartOutcome::kBlocking;
  }
  std::optional<service::SubmitRequest> submit = ParseSubmission(req, res);
  if (!submit) return StartOutcome::kDone;
  if (!submit->attachments.empty()) return StartOutcome::kBlocking;
  // Runs on a store thread: it only hands the result over; the strand formats the reply.
  auto on_created = [respond = std::move(respond)](Result<store::CreateRunResult> created) {
    respond([created = std::move(created)](HttpResponse& r) {
      if (!created.ok()) return SetError(r, created.status());
      SetRunId(r, created->run_id);
    });
  };
  ctx.runs.SubmitAsync(*std::move(submit), std::move(on_created));
  return StartOutcome::kPending;
}

void GetRunLog(ApiContext& ctx, const HttpRequest& req, const PathParams& p, HttpResponse& res) {
  if (!IsValidId(p[0])) return SetInvalidRunId(res, p[0]);
  Result<store::RunRecord> run = ctx.runs.GetRun(p[0]);
  if (!run.ok()) return SetError(res, run.status());
  SetJson(res, RunLogJson(*run, BaseUrl(ctx, req)));
}

void GetRunStatus(ApiContext& ctx, const HttpRequest&, const PathParams& p, HttpResponse& res) {
  if (!IsValidId(p[0])) return SetInvalidRunId(res, p[0]);
  Result<store::RunStatusRow> row = ctx.runs.GetStatus(p[0]);
  if (!row.ok()) return SetError(res, row.status());
  AppendRunStatusJson(res.body, *row);
}

void CancelRun(ApiContext& ctx, const HttpRequest&, const PathParams& p, HttpResponse& res) {
  if (!IsValidId(p[0])) return SetInvalidRunId(res, p[0]);
  Status st = ctx.runs.Cancel(p[0]);
  if (!st.ok()) return SetError(res, st);
  SetRunId(res, p[0]);
}

}  // namespace sluice::api
