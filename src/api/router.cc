#include "api/router.h"

#include <cassert>

namespace sluice::api {

std::string_view MethodName(HttpMethod method) {
  switch (method) {
    case HttpMethod::kGet:
      return "GET";
    case HttpMethod::kHead:
      return "HEAD";
    case HttpMethod::kPost:
      return "POST";
    case HttpMethod::kPut:
      return "PUT";
    case HttpMethod::kDelete:
      return "DELETE";
    case HttpMethod::kPatch:
      return "PATCH";
    case HttpMethod::kOptions:
      return "OPTIONS";
    case HttpMethod::kOther:
      break;
  }
  return "OTHER";
}

Router::Router(std::vector<Route> routes) {
  for (const Route& r : routes) {
    Compiled c{r, {}};
    std::string_view p = r.pattern;
    assert(!p.empty() && p.front() == '/');
    p.remove_prefix(1);
    while (!p.empty()) {
      size_t slash = p.find('/');
      c.segments.push_back(p.substr(0, slash));
      p = slash == std::string_view::npos ? std::string_view() : p.substr(slash + 1);
    }
    int captures = 0;
    for (std::string_view s : c.segments) captures += s == "{}";
    assert(captures <= PathParams::kMax);
    (void)captures;
    routes_.push_back(std::move(c));
  }
}

bool Router::MatchSegments(const Compiled& c, std::string_view path, PathParams& params) {
  params.count = 0;
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  for (std::string_view want : c.segments) {
    if (path.empty()) return false;
    size_t slash = path.find('/');
    std::string_view got = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (want == "{}") {
      if (got.empty()) return false;
      params.values[params.count++] = got;
    } else if (want != got) {
      return false;
    }
  }
  return path.empty();
}

Router::Match Router::Find(HttpMethod method, std::string_view path) const {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  HttpMethod want = method == HttpMethod::kHead ? HttpMethod::kGet : method;
  Match m;
  PathParams params;
  for (const Compiled& c : routes_) {
    if (c.route.method == want) {
      if (MatchSegments(c, path, params)) {
        m.route = &c.route;
        m.params = params;
        m.allow.clear();
        return m;
      }
    }
  }
  // No route for this method: collect the methods the path does accept.
  for (const Compiled& c : routes_) {
    if (c.route.method != want && MatchSegments(c, path, params)) {
      if (!m.allow.empty()) m.allow += ", ";
      m.allow += MethodName(c.route.method);
      if (c.route.method == HttpMethod::kGet) m.allow += ", HEAD";
    }
  }
  return m;
}

}  // namespace sluice::api
