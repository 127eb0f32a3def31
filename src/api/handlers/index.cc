// The run index: GET /api/v1/runs (filters, sort, totals, fields), PATCH /api/v1/runs/{id}
// (tags only), DELETE /api/v1/runs/{id} (an ended run), GET /api/v1/stats.
#include <nlohmann/json.hpp>

#include "api/errors.h"
#include "api/handlers/handlers.h"
#include "api/list_params.h"
#include "api/wes_json.h"
#include "common/clock.h"
#include "service/run_service.h"

namespace sluice::api {
namespace {

void SetJson(HttpResponse& res, const Json& j) {
  res.body = j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json SummaryJson(const store::DurationSummary& d) {
  return Json{{"count", d.count}, {"p50", d.p50_seconds}, {"p95", d.p95_seconds}};
}

}  // namespace

void ListRunsV1(ApiContext& ctx, const HttpRequest& req, const PathParams&, HttpResponse& res) {
  Result<RunListParams> params = ParseRunListParams(req.query, /*strict=*/true);
  if (!params.ok()) return SetError(res, params.status());
  Result<service::RunListPage> page = ctx.runs.ListRuns(params->request);
  if (!page.ok()) return SetError(res, page.status());
  std::optional<ListTotal> total;
  if (params->request.total && page->total) total = ListTotal{page->total->count, page->total->exact};
  const std::vector<std::string>& fields = params->fields;
  res.body = RunListBody(page->runs, page->next_page_token, total,
                         [&fields](std::string& out, const store::RunRecord& run) {
                           AppendRunRowJson(out, run, fields);
                         });
}

void PatchRun(ApiContext& ctx, const HttpRequest& req, const PathParams& p, HttpResponse& res) {
  if (!IsValidId(p[0])) return SetInvalidRunId(res, p[0]);
  if (!req.content_type.empty() && req.content_type.find("json") == std::string_view::npos) {
    return SetError(res, 415, "Content-Type: PATCH takes application/json");
  }
  Result<TagsPatch> patch = ParseTagsPatch(req.body);
  if (!patch.ok()) return SetError(res, patch.status());
  Result<store::RunRecord> run = ctx.runs.UpdateTags(p[0], patch->set, patch->remove);
  if (!run.ok()) return SetError(res, run.status());
  Json tags = Json::object();
  for (const auto& [k, v] : run->request.tags) tags[k] = v;
  SetJson(res, Json{{"run_id", run->id}, {"tags", std::move(tags)}});
}

void DeleteRun(ApiContext& ctx, const HttpRequest&, const PathParams& p, HttpResponse& res) {
  if (!IsValidId(p[0])) return SetInvalidRunId(res, p[0]);
  Status st = ctx.runs.DeleteRun(p[0]);
  if (!st.ok()) return SetError(res, st);
  res.status = 204;
  res.body.clear();
}

void GetStats(ApiContext& ctx, const HttpRequest& req, const PathParams&, HttpResponse& res) {
  SystemClock clock;
  Result<store::StatsQuery> query = ParseStatsParams(req.query, clock.Now());
  if (!query.ok()) return SetError(res, query.status());
  Result<std::vector<service::StatsGroupReport>> groups = ctx.runs.Stats(*query);
  if (!groups.ok()) return SetError(res, groups.status());
  Json rows = Json::array();
  for (const service::StatsGroupReport& r : *groups) {
    const store::StatsGroup& g = r.group;
    Json by_state = Json::object();
    for (const auto& [state, n] : g.runs_by_state) by_state[std::string(StateName(state))] = n;
    rows.push_back(Json{{"key", g.key},
                        {"runs", g.runs},
                        {"runs_by_state", std::move(by_state)},
                        {"success_rate", r.success_rate},
                        {"tasks", g.tasks},
                        {"tasks_failed", g.tasks_failed},
                        {"run_duration_seconds", SummaryJson(g.run_duration)},
                        {"task_duration_seconds", SummaryJson(g.task_duration)},
                        {"cpu_seconds", g.cpu_seconds},
                        {"cpu_hours", r.cpu_hours},
                        {"gb_hours", r.gb_hours},
                        {"estimated_cost", r.estimated_cost}});
  }
  SetJson(res, Json{{"from", FormatIso8601(query->from)},
                    {"to", FormatIso8601(query->to)},
                    {"group_by", GroupByName(*query)},
                    {"groups", std::move(rows)}});
}

void Unused(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse& res) {
  SetError(res, 500, "internal error: route without a handler");
}

}  // namespace sluice::api
