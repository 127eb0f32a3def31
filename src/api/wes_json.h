// Domain records (store/run_store.h) -> WES 1.1 JSON: RunStatus, RunSummary, RunLog, TaskLog,
// the list responses and ServiceInfo. Times are ISO 8601 "%Y-%m-%dT%H:%M:%SZ"; unset times are
// omitted. URLs (task_logs_url, TaskLog stdout/stderr) are absolute, built from `base_url`
// ("http://host:port", no trailing slash).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/state.h"
#include "store/run_store.h"

namespace sluice::api {

using Json = nlohmann::json;

// Appends `s` as a JSON string literal (quotes included, escaped) to `out`.
void AppendJsonString(std::string& out, std::string_view s);

// {"run_id":"...","state":"RUNNING"} appended to `out` without building a Json (hot path).
void AppendRunStatusJson(std::string& out, const store::RunStatusRow& row);

Json RunRequestJson(const store::RunRequest& request);
Json RunLogJson(const store::RunRecord& run, std::string_view base_url);
Json TaskLogJson(const store::TaskRecord& task, std::string_view base_url);
Json TaskListJson(const std::vector<store::TaskRecord>& tasks, const std::string& next_page_token,
                  std::string_view base_url);

// The run listings, written straight into text (no Json tree: a page of rows is a hot path).
// Keys come in alphabetical order.
//  - WES RunSummary: {end_time?, run_id, start_time?, state, tags}.
void AppendRunSummaryJson(std::string& out, const store::RunRecord& run);
//  - A row of GET /api/v1/runs: end_time?, name, run_id, start_time?, state, submitted_at,
//    tags, updated_at, user, workflow_type (times RFC 3339, omitted when unset). `fields`
//    (names from api/list_params.h RunRowFields) keeps only those; empty keeps all.
void AppendRunRowJson(std::string& out, const store::RunRecord& run,
                      const std::vector<std::string>& fields);
// A list response: {"next_page_token": ..., "runs": [rows], "total"?: n,
// "total_is_estimate"?: b}, each row written by `row`.
struct ListTotal {
  int64_t count = 0;
  bool exact = true;
};
std::string RunListBody(const std::vector<store::RunRecord>& runs,
                        const std::string& next_page_token, const std::optional<ListTotal>& total,
                        const std::function<void(std::string&, const store::RunRecord&)>& row);

// The data of an SSE event: {seq, run_id, task_id, type, from, to, at, reason, run_state,
// tags}, appended as one line of JSON text.
void AppendChangeEventJson(std::string& out, const store::ChangeEvent& e);

// "<base>/ga4gh/wes/v1/runs/<run>/tasks"
std::string TaskListUrl(std::string_view base_url, std::string_view run_id);
// "<base>/api/v1/runs/<run>/tasks/<task>/logs/<stream>"
std::string TaskLogUrl(std::string_view base_url, std::string_view run_id, std::string_view task_id,
                       std::string_view stream);

struct ServiceInfoInput {
  std::string id;
  std::string name;
  std::string description;
  std::string version;  // of Sluice
  std::string organization_name;
  std::string organization_url;
  std::string documentation_url;  // "" to omit
  std::string auth_instructions_url;
  std::map<std::string, std::vector<std::string>> workflow_types;  // type -> versions
  std::map<std::string, std::vector<std::string>> engines;         // engine -> versions
  std::map<State, int64_t> state_counts;  // missing states are reported as 0
  std::map<std::string, std::string> tags;
};

Json ServiceInfoJson(const ServiceInfoInput& in);

}  // namespace sluice::api
