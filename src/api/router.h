// Router: maps (method, path) to a handler by matching '/'-separated segments against route
// patterns such as "/ga4gh/wes/v1/runs/{}/status" ("{}" captures one segment). No regex: a
// match is a linear walk over a handful of pre-split patterns. A path that matches a pattern
// under another method yields the Allow list for a 405.
//
// Thread-safety: immutable after construction; Find is safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"

namespace sluice::api {

struct ApiContext;

using HandlerFn = void (*)(ApiContext& ctx, const HttpRequest& req, const PathParams& params,
                           HttpResponse& res);

struct Route {
  HttpMethod method;
  std::string_view pattern;  // static storage
  HandlerFn handler;
  // True for handlers that wait on durable writes; the server runs them off the I/O threads.
  bool blocking = false;
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
