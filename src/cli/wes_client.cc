#include "cli/wes_client.h"

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/exit_codes.h"

namespace sluice::cli {
namespace {

// Runaway pagination (a server returning the same token forever) ends here.
constexpr int kMaxPages = 100'000;

std::string RunPath(std::string_view run_id) {
  return std::string(kWesPrefix) + "/runs/" + EscapeUrlComponent(run_id);
}

std::string PageQuery(int64_t page_size, std::string_view page_token) {
  std::string query;
  if (page_size > 0) query += "page_size=" + std::to_string(page_size);
  if (!page_token.empty()) {
    if (!query.empty()) query += '&';
    query += "page_token=" + EscapeUrlComponent(page_token);
  }
  return query.empty() ? "" : "?" + query;
}

}  // namespace

Status ErrorFromResponse(const HttpResponse& response) {
  std::string msg;
  Result<Json> body = ParseJson(response.body, "error response");
  if (body.ok() && body->is_object()) {
    auto it = body->find("msg");
    if (it != body->end() && it->is_string()) msg = it->get<std::string>();
  }
  if (msg.empty()) {
    msg = response.body.substr(0, response.body.find('\n'));
    if (msg.size() > 200) msg = msg.substr(0, 200) + "...";
  }
  if (msg.empty()) msg = "HTTP " + std::to_string(response.status);
  return Status(StatusCodeFromHttp(response.status), std::to_string(response.status) + ": " + msg);
}

Result<Json> WesClient::Decode(Result<HttpResponse> response) {
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status >= 300) return ErrorFromResponse(*response);
  Result<Json> json = ParseJson(response->body, "response from " + http_.base_url());
  if (!json.ok()) return Status(StatusCode::kInternal, json.status().message());
  return json;
}

Result<Json> WesClient::Submit(const SubmitForm& form) {
  std::vector<std::string> headers;
  if (!form.idempotency_key.empty()) headers.push_back("Idempotency-Key: " + form.idempotency_key);
  return Decode(http_.PostMultipart(std::string(kWesPrefix) + "/runs", form.parts, headers));
}

Result<Json> WesClient::GetRunLog(std::string_view run_id) {
  return Decode(http_.Get(RunPath(run_id)));
}

Result<Json> WesClient::GetRunStatus(std::string_view run_id) {
  return Decode(http_.Get(RunPath(run_id) + "/status"));
}

Result<Json> WesClient::Cancel(std::string_view run_id) {
  return Decode(http_.PostJson(RunPath(run_id) + "/cancel", ""));
}

Result<Json> WesClient::ListRuns(int64_t page_size, std::string_view page_token) {
  return Decode(http_.Get(std::string(kWesPrefix) + "/runs" + PageQuery(page_size, page_token)));
}

Result<Json> WesClient::ListRunsIndexed(std::string_view query) {
  std::string path = "/api/v1/runs";
  if (!query.empty()) path += "?" + std::string(query);
  return Decode(http_.Get(path));
}

Result<Json> WesClient::ListTasks(std::string_view run_id, int64_t page_size,
                                  std::string_view page_token) {
  return Decode(http_.Get(RunPath(run_id) + "/tasks" + PageQuery(page_size, page_token)));
}

Result<Json> WesClient::GetTask(std::string_view run_id, std::string_view task_id) {
  return Decode(http_.Get(RunPath(run_id) + "/tasks/" + EscapeUrlComponent(task_id)));
}

Result<std::vector<Json>> WesClient::CollectPages(const std::string& path, const char* field,
                                                  const char* what) {
  std::vector<Json> items;
  std::string token;
  for (int page = 0; page < kMaxPages; ++page) {
    ASSIGN_OR_RETURN(Json response, Decode(http_.Get(path + PageQuery(0, token))));
    auto rows = response.find(field);
    if (rows != response.end() && rows->is_array()) {
      for (Json& row : *rows) items.push_back(std::move(row));
    }
    auto next = response.find("next_page_token");
    if (next == response.end() || !next->is_string() || next->get<std::string>().empty()) {
      return items;
    }
    if (next->get<std::string>() == token) {
      return Internal("server returned the same next_page_token twice");
    }
    token = next->get<std::string>();
  }
  return Internal(std::string("too many pages of ") + what);
}

Result<std::vector<Json>> WesClient::ListAllTasks(std::string_view run_id) {
  return CollectPages(RunPath(run_id) + "/tasks", "task_logs", "tasks");
}

Result<std::vector<Json>> WesClient::ListAudit(std::string_view run_id) {
  return CollectPages("/api/v1/runs/" + EscapeUrlComponent(run_id) + "/audit", "changes",
                      "changes");
}

Result<std::string> WesClient::TaskLog(std::string_view run_id, std::string_view task_id,
                                       std::string_view stream, uint64_t offset) {
  std::string path = "/api/v1/runs/" + EscapeUrlComponent(run_id) + "/tasks/" +
                     EscapeUrlComponent(task_id) + "/logs/" + std::string(stream);
  if (offset > 0) path += "?offset=" + std::to_string(offset);
  ASSIGN_OR_RETURN(HttpResponse response, http_.Get(path));
  if (response.status < 200 || response.status >= 300) return ErrorFromResponse(response);
  return std::move(response.body);
}

}  // namespace sluice::cli
