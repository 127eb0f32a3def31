// The request handlers of the API, one file per resource (service_info.cc, runs.cc, tasks.cc,
// logs.cc), and the route table that binds them to paths (routes.cc). Handlers are thin: they
// parse the request, call service::RunService, map the Status (api/errors.h) and serialise.
//
// Thread-safety: handlers only touch their request/response and the thread-safe RunService;
// any number may run at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_server.h"
#include "api/http_types.h"
#include "api/router.h"
#include "common/ids.h"

namespace sluice::api {

struct ApiContext {
  service::RunService& runs;
  service::EventBus& events;
  const HttpOptions& options;
  uint16_t port = 0;  // the bound port, for URLs when a request has no usable Host header
};

// Every route of the API. POST /runs and cancel are marked blocking; POST /runs also has a
// non-blocking start (StartSubmitRun) that takes every submission without attachments.
std::vector<Route> ApiRoutes();

// "http://<Host header>" (or the bound host:port if the header is absent or odd); no
// trailing slash.
std::string BaseUrl(const ApiContext& ctx, const HttpRequest& req);


// Shared replies.
void SetInvalidRunId(HttpResponse& res, std::string_view id);

void GetServiceInfo(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
void GetHealth(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
void ListRuns(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
void SubmitRun(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
StartOutcome StartSubmitRun(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&,
                            Responder);
void GetRunLog(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
void GetRunStatus(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
void CancelRun(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
void ListTasks(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
void GetTask(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
void GetTaskLog(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
void ListHistory(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
void ListAudit(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);

// The run index (index.cc): /api/v1/runs with filters, PATCH (tags), DELETE, /api/v1/stats.
void ListRunsV1(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
void PatchRun(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
void DeleteRun(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);
void GetStats(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);

// Server-Sent Events (events.cc): GET /api/v1/events and GET /api/v1/runs/{id}/events.
void StreamEvents(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&,
                  std::unique_ptr<StreamBody>&);
void StreamRunEvents(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&,
                     std::unique_ptr<StreamBody>&);
// A route whose handler is never called (its `stream` or `start` serves it).
void Unused(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&);

}  // namespace sluice::api
