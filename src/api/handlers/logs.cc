// GET /api/v1/runs/{run_id}/tasks/{task_id}/logs/{stdout|stderr}[?offset=N]: a task's captured
// output as text/plain, from byte N to the current end of the file (the server streams it), so
// a client can tail a growing log by asking again from where it stopped.
#include "api/errors.h"
#include "api/handlers/handlers.h"
#include "api/query.h"
#include "service/run_service.h"

namespace sluice::api {

void GetTaskLog(ApiContext& ctx, const HttpRequest& req, const PathParams& p, HttpResponse& res) {
  if (!IsValidId(p[0])) return SetInvalidRunId(res, p[0]);
  if (!IsValidId(p[1])) return SetError(res, 404, "task not found: invalid task id");
  if (p[2] != "stdout" && p[2] != "stderr") {
    return SetError(
        res, 404,
        "no such log stream '" + std::string(p[2].substr(0, 64)) + "': use stdout or stderr");
  }
  Result<int64_t> offset = ParseOffset(req.query);
  if (!offset.ok()) return SetError(res, offset.status());
  Result<std::string> path = ctx.runs.TaskLogPath(p[0], p[1], p[2]);
  if (!path.ok()) return SetError(res, path.status());
  res.content_type = kTextType;
  res.file_path = *std::move(path);
  res.file_offset = static_cast<uint64_t>(*offset);
}

}  // namespace sluice::api
