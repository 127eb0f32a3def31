// /ga4gh/wes/v1/runs: list, submit, get, status, cancel.
#include "api/errors.h"
#include "api/handlers/handlers.h"
#include "api/query.h"
#include "api/submit_request.h"
#include "api/wes_json.h"
#include "service/run_service.h"

namespace sluice::api {
namespace {

constexpr size_t kMaxIdempotencyKey = 255;

void SetJson(HttpResponse& res, const Json& j) {
  res.body = j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void SetRunId(HttpResponse& res, std::string_view run_id) {
  res.body = "{\"run_id\":";
  AppendJsonString(res.body, run_id);
  res.body += '}';
}

}  // namespace

void ListRuns(ApiContext& ctx, const HttpRequest& req, const PathParams&, HttpResponse& res) {
  Result<int64_t> page_size = ParsePageSize(req.query);
  if (!page_size.ok()) return SetError(res, page_size.status());
  std::string token = QueryParam(req.query, "page_token").value_or("");
  Result<service::RunListPage> page = ctx.runs.ListRuns(*page_size, token);
  if (!page.ok()) return SetError(res, page.status());
  SetJson(res, RunListJson(page->runs, page->next_page_token));
}

void SubmitRun(ApiContext& ctx, const HttpRequest& req, const PathParams&, HttpResponse& res) {
  if (req.idempotency_key.size() > kMaxIdempotencyKey) {
    return SetError(res, 400, "Idempotency-Key: longer than 255 characters");
  }
  Result<service::SubmitRequest> submit = ParseSubmitRequest(req.content_type, req.body);
  if (!submit.ok()) return SetError(res, submit.status());
  submit->idempotency_key = std::string(req.idempotency_key);
  Result<store::CreateRunResult> created = ctx.runs.Submit(*std::move(submit));
  if (!created.ok()) return SetError(res, created.status());
  SetRunId(res, created->run_id);
}

void GetRunLog(ApiContext& ctx, const HttpRequest& req, const PathParams& p, HttpResponse& res) {
  if (!IsValidPathId(p[0])) return SetInvalidRunId(res, p[0]);
  Result<store::RunRecord> run = ctx.runs.GetRun(p[0]);
  if (!run.ok()) return SetError(res, run.status());
  SetJson(res, RunLogJson(*run, BaseUrl(ctx, req)));
}

void GetRunStatus(ApiContext& ctx, const HttpRequest&, const PathParams& p, HttpResponse& res) {
  if (!IsValidPathId(p[0])) return SetInvalidRunId(res, p[0]);
  Result<store::RunStatusRow> row = ctx.runs.GetStatus(p[0]);
  if (!row.ok()) return SetError(res, row.status());
  AppendRunStatusJson(res.body, *row);
}

void CancelRun(ApiContext& ctx, const HttpRequest&, const PathParams& p, HttpResponse& res) {
  if (!IsValidPathId(p[0])) return SetInvalidRunId(res, p[0]);
  Status st = ctx.runs.Cancel(p[0]);
  if (!st.ok()) return SetError(res, st);
  SetRunId(res, p[0]);
}

}  // namespace sluice::api
