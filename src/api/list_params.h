// Query and body parsing for the run index endpoints: the filters of GET /api/v1/runs (and
// the optional ones of GET /ga4gh/wes/v1/runs), the SSE filters and resume point of the
// event streams, the stats query, and the body of PATCH /api/v1/runs/{id}. Every error is a
// kInvalidArgument that names the parameter and says why.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/state.h"
#include "common/status.h"
#include "service/event_bus.h"
#include "service/run_service.h"
#include "store/run_store.h"

namespace sluice::api {

// A time parameter: RFC 3339 ("2026-11-30T11:00:13Z", fractions and offsets allowed), a
// date ("2026-11-30", midnight UTC) or epoch seconds ("1796036413").
Result<Micros> ParseTimeParam(std::string_view name, std::string_view value);

// State names, each value possibly a comma list ("RUNNING,QUEUED"), case-insensitive.
Result<std::vector<State>> ParseStatesParam(std::string_view name,
                                            const std::vector<std::string>& values);

// "key:value" tags (the value may contain ':'; the key may not be empty).
Result<std::vector<std::pair<std::string, std::string>>> ParseTagsParam(
    std::string_view name, const std::vector<std::string>& values);

// The row fields GET /api/v1/runs can return (and `fields` may select).
const std::vector<std::string_view>& RunRowFields();

struct RunListParams {
  service::RunListRequest request;
  std::vector<std::string> fields;  // empty: every field
  // True when any filter, a sort or total was given (false: a plain WES listing).
  bool extended = false;
};

// The parameters of a run listing. `strict` (GET /api/v1/runs) rejects unknown parameters
// and accepts `fields`; otherwise (WES) unknown parameters are ignored.
Result<RunListParams> ParseRunListParams(std::string_view query, bool strict);

struct EventStreamParams {
  service::EventFilter filter;
  std::optional<int64_t> after;  // Last-Event-ID (header first, else last_event_id)
};

// The parameters of an SSE stream. `run_scoped` (GET /runs/{id}/events) takes no `run`.
Result<EventStreamParams> ParseEventStreamParams(std::string_view query,
                                                 std::string_view last_event_id_header,
                                                 bool run_scoped);

// GET /api/v1/stats: from/to (default: the 30 days before `now`), group_by (default day).
Result<store::StatsQuery> ParseStatsParams(std::string_view query, Micros now);
// "day", "user", "workflow_type" or "tag:<key>".
std::string GroupByName(const store::StatsQuery& query);

struct TagsPatch {
  store::StringMap set;
  std::vector<std::string> remove;
};

// {"tags": {"k": "v", "gone": null}, "remove_tags": ["other"]}: a null value removes a tag.
// Anything else in the body is an error.
Result<TagsPatch> ParseTagsPatch(std::string_view body);

}  // namespace sluice::api
