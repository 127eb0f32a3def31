// GET /ga4gh/wes/v1/service-info and GET /healthz.
#include "api/errors.h"
#include "api/handlers/handlers.h"
#include "api/wes_json.h"
#include "engine/driver.h"
#include "service/run_service.h"

namespace sluice::api {

void GetServiceInfo(ApiContext& ctx, const HttpRequest& req, const PathParams&, HttpResponse& res) {
  Result<std::map<State, int64_t>> counts = ctx.runs.StateCounts();
  if (!counts.ok()) return SetError(res, counts.status());
  const HttpOptions& o = ctx.options;
  std::string base = BaseUrl(ctx, req);

  ServiceInfoInput in;
  in.id = o.service_id;
  in.name = o.service_name;
  in.description = "Sluice runs pipelines: GA4GH WES 1.1 API";
  in.version = o.version;
  in.organization_name = o.organization_name;
  in.organization_url = o.organization_url.empty() ? base + "/" : o.organization_url;
  in.documentation_url = o.documentation_url;
  // No authentication is configured: the instructions are the service itself.
  in.auth_instructions_url = o.auth_instructions_url.empty() ? base + "/" : o.auth_instructions_url;
  in.workflow_types = ctx.runs.drivers().Types();
  // Every workflow type runs on Sluice's own engine (its drivers).
  in.engines["sluice"] = {o.version};
  in.state_counts = *std::move(counts);
  res.body = ServiceInfoJson(in).dump(-1, ' ', false, Json::error_handler_t::replace);
}

void GetHealth(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse& res) {
  res.body = R"({"status":"ok"})";
}

}  // namespace sluice::api
