#include "api/handlers/handlers.h"

namespace sluice::api {

std::vector<Route> ApiRoutes() {
  using M = HttpMethod;
  return {
      // The hot path first: the router tries routes in order.
      {M::kGet, "/ga4gh/wes/v1/runs/{}/status", &GetRunStatus},
      {M::kGet, "/ga4gh/wes/v1/runs/{}", &GetRunLog},
      {M::kGet, "/ga4gh/wes/v1/runs", &ListRuns},
      {M::kPost, "/ga4gh/wes/v1/runs", &SubmitRun, /*blocking=*/true, &StartSubmitRun},
      {M::kPost, "/ga4gh/wes/v1/runs/{}/cancel", &CancelRun, /*blocking=*/true},
      {M::kGet, "/ga4gh/wes/v1/runs/{}/tasks", &ListTasks},
      {M::kGet, "/ga4gh/wes/v1/runs/{}/tasks/{}", &GetTask},
      {M::kGet, "/ga4gh/wes/v1/service-info", &GetServiceInfo},
      {M::kGet, "/api/v1/runs/{}/tasks/{}/logs/{}", &GetTaskLog},
      {M::kGet, "/api/v1/runs/{}/history", &ListHistory},
      {M::kGet, "/api/v1/runs/{}/audit", &ListAudit},
      {M::kGet, "/api/v1/runs", &ListRunsV1},
      {M::kPatch, "/api/v1/runs/{}", &PatchRun, /*blocking=*/true},
      {M::kDelete, "/api/v1/runs/{}", &DeleteRun, /*blocking=*/true},
      {M::kGet, "/api/v1/runs/{}/events", &Unused, false, nullptr, &StreamRunEvents},
      {M::kGet, "/api/v1/events", &Unused, false, nullptr, &StreamEvents},
      {M::kGet, "/api/v1/stats", &GetStats},
      {M::kGet, "/healthz", &GetHealth},
  };
}

}  // namespace sluice::api
