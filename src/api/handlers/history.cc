// /api/v1/runs/{run_id}/history: the execution history a run's engine recorded (for ASL
// runs, like Step Functions' GetExecutionHistory), oldest first, paginated.
// /api/v1/runs/{run_id}/audit: the run's audit trail, every state change of the run and its
// tasks as the store recorded it with the change, oldest first, paginated.
#include <nlohmann/json.hpp>

#include "api/errors.h"
#include "api/handlers/handlers.h"
#include "api/query.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/state.h"
#include "service/run_service.h"

namespace sluice::api {

void ListHistory(ApiContext& ctx, const HttpRequest& req, const PathParams& p, HttpResponse& res) {
  if (!IsValidId(p[0])) return SetInvalidRunId(res, p[0]);
  Result<int64_t> page_size = ParsePageSize(req.query);
  if (!page_size.ok()) return SetError(res, page_size.status());
  std::string token = QueryParam(req.query, "page_token").value_or("");
  Result<service::RunEventListPage> page = ctx.runs.ListHistory(p[0], *page_size, token);
  if (!page.ok()) return SetError(res, page.status());
  Json events = Json::array();
  for (const store::RunEvent& e : page->events) {
    Json row = {{"id", e.seq}, {"type", e.type}, {"timestamp", FormatIso8601Micros(e.at)}};
    if (!e.state_name.empty()) row["state_name"] = e.state_name;
    if (!e.scope.empty()) row["scope"] = e.scope;
    Json details = Json::parse(e.details, nullptr, /*allow_exceptions=*/false);
    row["details"] = details.is_discarded() ? Json::object() : std::move(details);
    events.push_back(std::move(row));
  }
  Json body = {{"events", std::move(events)}, {"next_page_token", page->next_page_token}};
  res.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void ListAudit(ApiContext& ctx, const HttpRequest& req, const PathParams& p, HttpResponse& res) {
  if (!IsValidId(p[0])) return SetInvalidRunId(res, p[0]);
  Result<int64_t> page_size = ParsePageSize(req.query);
  if (!page_size.ok()) return SetError(res, page_size.status());
  std::string token = QueryParam(req.query, "page_token").value_or("");
  Result<service::AuditPage> page = ctx.runs.ListAudit(p[0], *page_size, token);
  if (!page.ok()) return SetError(res, page.status());
  Json changes = Json::array();
  for (const store::HistoryEvent& e : page->changes) {
    Json row = {{"id", e.seq}, {"type", e.type}, {"timestamp", FormatIso8601Micros(e.at)}};
    if (!e.task_id.empty()) row["task_id"] = e.task_id;
    if (e.from != State::kUnknown) row["from"] = StateName(e.from);
    if (e.to != State::kUnknown) row["to"] = StateName(e.to);
    row["reason"] = e.reason;
    changes.push_back(std::move(row));
  }
  Json body = {{"changes", std::move(changes)}, {"next_page_token", page->next_page_token}};
  res.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace sluice::api
