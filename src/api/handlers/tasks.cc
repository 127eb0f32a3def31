// /ga4gh/wes/v1/runs/{run_id}/tasks: list and get.
#include "api/errors.h"
#include "api/handlers/handlers.h"
#include "api/query.h"
#include "api/wes_json.h"
#include "service/run_service.h"

namespace sluice::api {

void ListTasks(ApiContext& ctx, const HttpRequest& req, const PathParams& p, HttpResponse& res) {
  if (!IsValidId(p[0])) return SetInvalidRunId(res, p[0]);
  Result<int64_t> page_size = ParsePageSize(req.query);
  if (!page_size.ok()) return SetError(res, page_size.status());
  std::string token = QueryParam(req.query, "page_token").value_or("");
  Result<service::TaskListPage> page = ctx.runs.ListTasks(p[0], *page_size, token);
  if (!page.ok()) return SetError(res, page.status());
  res.body = TaskListJson(page->tasks, page->next_page_token, BaseUrl(ctx, req))
                 .dump(-1, ' ', false, Json::error_handler_t::replace);
}

void GetTask(ApiContext& ctx, const HttpRequest& req, const PathParams& p, HttpResponse& res) {
  if (!IsValidId(p[0])) return SetInvalidRunId(res, p[0]);
  if (!IsValidId(p[1])) {
    return SetError(
        res, 404,
        "task not found: '" + std::string(p[1].substr(0, 64)) + "' is not a valid task id");
  }
  Result<store::TaskRecord> task = ctx.runs.GetTask(p[0], p[1]);
  if (!task.ok()) return SetError(res, task.status());
  res.body =
      TaskLogJson(*task, BaseUrl(ctx, req)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace sluice::api
