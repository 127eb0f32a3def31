// Router: maps (method, path) to a handler by matching '/'-separated segments against route
// patterns such as "/ga4gh/wes/v1/runs/{}/status" ("{}" captures one segment). No regex: a
// match is a linear walk over a handful of pre-split patterns. A path that matches a pattern
// under another method yields the Allow list for a 405.
//
// Thread-safety: immutable after construction; Find is safe from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"

namespace sluice::api {

struct ApiContext;

using HandlerFn = void (*)(ApiContext& ctx, const HttpRequest& req, const PathParams& params,
                           HttpResponse& res);

// Fills in the response of an asynchronous handler; the server runs it on the connection's
// strand, so it may touch the response but must not block.
using Reply = std::function<void(HttpResponse&)>;
// Given to an asynchronous handler: call it exactly once, from any thread, to answer.
using Responder = std::function<void(Reply)>;

enum class StartOutcome {
  kDone,      // answered already: `res` is filled in, `respond` will not be called
  kPending,   // work started: `respond` will be called exactly once
  kBlocking,  // declined: run Route::handler on the blocking pool instead
};
// The non-blocking form of a handler, run on the I/O thread. It must not wait on a durable
// write; it returns kBlocking for requests that would (and then leaves `res` alone).
using StartFn = StartOutcome (*)(ApiContext& ctx, const HttpRequest& req, const PathParams& params,
                                 HttpResponse& res, Responder respond);

// A streaming handler, run on the I/O thread: either sets `stream` (the server then answers
// 200 text/event-stream and feeds the client from it) or leaves it null and fills in `res`
// (an error). It must not block.
using StreamFn = void (*)(ApiContext& ctx, const HttpRequest& req, const PathParams& params,
                          HttpResponse& res, std::unique_ptr<StreamBody>& stream);

struct Route {
  HttpMethod method;
  std::string_view pattern;  // static storage
  HandlerFn handler;
  // True for handlers that wait on durable writes; the server runs them off the I/O threads.
  bool blocking = false;
  // If set, tried first on the I/O thread; `handler` is then only the fallback.
  StartFn start = nullptr;
  // If set, the route streams (SSE); `handler` is unused.
  StreamFn stream = nullptr;
};

class Router {
 public:
  explicit Router(std::vector<Route> routes);

  struct Match {
    const Route* route = nullptr;  // null: no route for this method
    PathParams params;
    std::string allow;  // when route is null: methods the path does accept ("" -> 404)
  };

  // HEAD is matched against GET routes (the server then drops the body). A single trailing
  // '/' is ignored.
  Match Find(HttpMethod method, std::string_view path) const;

 private:
  struct Compiled {
    Route route;
    std::vector<std::string_view> segments;  // "{}" marks a capture
  };
  static bool MatchSegments(const Compiled& c, std::string_view path, PathParams& params);

  std::vector<Compiled> routes_;
};

}  // namespace sluice::api
