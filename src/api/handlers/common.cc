// Helpers shared by the handlers (kept apart from routes.cc so tests can link them alone).
#include "api/errors.h"
#include "api/handlers/handlers.h"

namespace sluice::api {

namespace {

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
}

}  // namespace

std::string BaseUrl(const ApiContext& ctx, const HttpRequest& req) {
  std::string url = "http://";
  bool usable = !req.host.empty() && req.host.size() <= 255;
  for (char c : req.host) usable = usable && IsHostChar(c);
  if (usable) {
    url += req.host;
  } else {
    const std::string& h = ctx.options.host;
    bool v6 = h.find(':') != std::string::npos;
    url += v6 ? "[" + h + "]" : h;
    url += ":" + std::to_string(ctx.port);
  }
  return url;
}

void SetInvalidRunId(HttpResponse& res, std::string_view id) {
  std::string shown(id.substr(0, 64));
  SetError(res, 404, "run not found: '" + shown + "' is not a valid run id");
}

}  // namespace sluice::api
