// HttpServer: the HTTP front door (Boost.Beast). Serves the GA4GH WES 1.1 API under
// /ga4gh/wes/v1 and Sluice's extensions under /api/v1, by routing each request to a thin
// handler (api/handlers/<resource>.cc) that parses, calls service::RunService, maps the
// Status to an HTTP code (api/errors.h) and serialises JSON.
//
// Beast/Asio stay inside the .cc files; this header is cheap to include.
//
// Thread-safety: Start/Stop from one thread. Requests are served by `io_threads` I/O threads;
// handlers that wait on durable writes (cancel, POST /runs with attachments) run on a separate
// pool of `blocking_threads` so an I/O thread never waits on an fsync. POST /runs without
// attachments is parsed on the I/O thread and committed asynchronously
// (RunService::SubmitAsync); the store's completion posts the response back to the connection.
// Stop() waits for those completions too. The SSE endpoints keep their connection open and
// are fed from the EventBus (a subscription wakes the connection's strand, which reads and
// writes without blocking); Stop() ends them at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace sluice::service {
class RunService;
class EventBus;
}  // namespace sluice::service

namespace sluice::api {

struct HttpOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0 picks a free port
  int io_threads = 2;
  int blocking_threads = 64;
  int64_t max_body_bytes = 64 << 20;  // larger bodies get 413
  std::string service_name = "Sluice";
  std::string version = "0.1.0";
  // GA4GH service-info identity. Empty URLs default to the server's own base URL.
  std::string service_id = "sluice";
  std::string organization_name = "Sluice";
  std::string organization_url;
  std::string documentation_url;
  std::string auth_instructions_url;
  // An idle keep-alive connection (or one sending a request head) is closed after this long.
  int idle_timeout_seconds = 60;
  // Time allowed to receive a request body, and to send a response.
  int transfer_timeout_seconds = 300;
  // Stop() waits this long for in-flight requests before closing connections.
  int shutdown_grace_seconds = 10;
  // An SSE stream sends a comment this often so proxies and clients see it is alive.
  int sse_keepalive_seconds = 15;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // Binds and starts serving. Returns the bound port (the real one when port was 0).
  // kUnavailable if the address cannot be bound (says which and why).
  virtual Result<uint16_t> Start() = 0;
  // Stops accepting, lets in-flight requests finish (bounded), joins the threads.
  virtual void Stop() = 0;
};

// `events` feeds the Server-Sent Events endpoints; it must outlive the server.
std::unique_ptr<HttpServer> NewHttpServer(service::RunService& runs, service::EventBus& events,
                                          HttpOptions options);

}  // namespace sluice::api
