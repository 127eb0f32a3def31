#include "api/wes_json.h"

#include "common/clock.h"

namespace sluice::api {
namespace {

void SetTime(Json& j, const char* key, const std::optional<Micros>& t) {
  if (t) j[key] = FormatIso8601(*t);
}

// Stored JSON text back to a value; text we could not parse (never written by us) is returned
// as a string rather than dropped.
Json ObjectFromText(const std::string& text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Json(text);
  return j;
}

Json StringMapJson(const store::StringMap& m) {
  Json j = Json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run_start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + run_start, s.size() - run_start);
  out.push_back('"');
}

void AppendRunStatusJson(std::string& out, const store::RunStatusRow& row) {
  out += "{\"run_id\":";
  AppendJsonString(out, row.id);
  out += ",\"state\":\"";
  out += StateName(row.state);
  out += "\"}";
}

std::string TaskListUrl(std::string_view base_url, std::string_view run_id) {
  std::string url(base_url);
  url += "/ga4gh/wes/v1/runs/";
  url += run_id;
  url += "/tasks";
  return url;
}

std::string TaskLogUrl(std::string_view base_url, std::string_view run_id, std::string_view task_id,
                       std::string_view stream) {
  std::string url(base_url);
  url += "/api/v1/runs/";
  url += run_id;
  url += "/tasks/";
  url += task_id;
  url += "/logs/";
  url += stream;
  return url;
}

Json RunRequestJson(const store::RunRequest& r) {
  Json j = Json::object();
  j["workflow_params"] = ObjectFromText(r.workflow_params);
  j["workflow_type"] = r.workflow_type;
  j["workflow_type_version"] = r.workflow_type_version;
  j["tags"] = StringMapJson(r.tags);
  j["workflow_engine_parameters"] = StringMapJson(r.workflow_engine_parameters);
  if (!r.workflow_engine.empty()) j["workflow_engine"] = r.workflow_engine;
  if (!r.workflow_engine_version.empty()) j["workflow_engine_version"] = r.workflow_engine_version;
  j["workflow_url"] = r.workflow_url;
  return j;
}

namespace {

void AppendTimeField(std::string& out, const char* key, Micros t, bool micros) {
  out += key;
  out += '"';
  AppendIso8601(out, t, micros);
  out += '"';
}

void AppendTags(std::string& out, const store::StringMap& tags) {
  out += '{';
  bool first = true;
  for (const auto& [k, v] : tags) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, k);
    out += ':';
    AppendJsonString(out, v);
  }
  out += '}';
}

}  // namespace

void AppendRunSummaryJson(std::string& out, const store::RunRecord& run) {
  out += '{';
  if (run.end_time) {
    AppendTimeField(out, "\"end_time\":", *run.end_time, false);
    out += ',';
  }
  out += "\"run_id\":";
  AppendJsonString(out, run.id);
  if (run.start_time) AppendTimeField(out, ",\"start_time\":", *run.start_time, false);
  out += ",\"state\":\"";
  out += StateName(run.state);
  out += "\",\"tags\":";
  AppendTags(out, run.request.tags);
  out += '}';
}

void AppendRunRowJson(std::string& out, const store::RunRecord& run,
                      const std::vector<std::string>& fields) {
  auto want = [&](std::string_view f) {
    if (fields.empty()) return true;
    for (const std::string& x : fields) {
      if (x == f) return true;
    }
    return false;
  };
  out += '{';
  bool first = true;
  auto key = [&](const char* name) {
    if (!first) out += ',';
    first = false;
    out += '"';
    out += name;
    out += "\":";
  };
  auto time = [&](const char* name, Micros t, bool micros) {
    key(name);
    out += '"';
    AppendIso8601(out, t, micros);
    out += '"';
  };
  if (run.end_time && want("end_time")) time("end_time", *run.end_time, false);
  if (want("name")) {
    key("name");
    AppendJsonString(out, run.name);
  }
  if (want("run_id")) {
    key("run_id");
    AppendJsonString(out, run.id);
  }
  if (run.start_time && want("start_time")) time("start_time", *run.start_time, false);
  if (want("state")) {
    key("state");
    out += '"';
    out += StateName(run.state);
    out += '"';
  }
  if (want("submitted_at")) time("submitted_at", run.submitted_at, true);
  if (want("tags")) {
    key("tags");
    AppendTags(out, run.request.tags);
  }
  if (want("updated_at")) time("updated_at", run.updated_at, true);
  if (want("user")) {
    key("user");
    AppendJsonString(out, run.user);
  }
  if (want("workflow_type")) {
    key("workflow_type");
    AppendJsonString(out, run.request.workflow_type);
  }
  out += '}';
}

std::string RunListBody(const std::vector<store::RunRecord>& runs,
                        const std::string& next_page_token, const std::optional<ListTotal>& total,
                        const std::function<void(std::string&, const store::RunRecord&)>& row) {
  std::string out;
  out.reserve(64 + runs.size() * 320);
  out += "{\"next_page_token\":";
  AppendJsonString(out, next_page_token);
  out += ",\"runs\":[";
  for (size_t i = 0; i < runs.size(); ++i) {
    if (i > 0) out += ',';
    row(out, runs[i]);
  }
  out += ']';
  if (total) {
    out += ",\"total\":";
    out += std::to_string(total->count);
    out += ",\"total_is_estimate\":";
    out += total->exact ? "false" : "true";
  }
  out += '}';
  return out;
}

void AppendChangeEventJson(std::string& out, const store::ChangeEvent& e) {
  out += "{\"seq\":";
  out += std::to_string(e.seq);
  out += ",\"run_id\":";
  AppendJsonString(out, e.run_id);
  out += ",\"task_id\":";
  AppendJsonString(out, e.task_id);
  out += ",\"type\":";
  AppendJsonString(out, e.type);
  out += ",\"from\":\"";
  out += StateName(e.from);
  out += "\",\"to\":\"";
  out += StateName(e.to);
  out += "\",\"at\":\"";
  out += FormatIso8601Micros(e.at);
  out += "\",\"reason\":";
  AppendJsonString(out, e.reason);
  out += ",\"run_state\":\"";
  out += StateName(e.run_state);
  out += "\",\"tags\":{";
  bool first = true;
  for (const auto& [k, v] : e.tags) {
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, k);
    out += ':';
    AppendJsonString(out, v);
  }
  out += "}}";
}

Json RunLogJson(const store::RunRecord& run, std::string_view base_url) {
  Json log = Json::object();
  log["name"] = run.request.workflow_url;
  SetTime(log, "start_time", run.start_time);
  SetTime(log, "end_time", run.end_time);
  log["system_logs"] = run.system_logs;

  Json j = Json::object();
  j["run_id"] = run.id;
  j["request"] = RunRequestJson(run.request);
  j["state"] = StateName(run.state);
  j["run_log"] = std::move(log);
  j["task_logs_url"] = TaskListUrl(base_url, run.id);
  j["task_logs"] = nullptr;  // deprecated in WES 1.1: clients use task_logs_url
  Json outputs = ObjectFromText(run.outputs);
  j["outputs"] = outputs.is_object() ? std::move(outputs) : Json::object();
  return j;
}

Json TaskLogJson(const store::TaskRecord& task, std::string_view base_url) {
  Json j = Json::object();
  j["id"] = task.id;
  j["name"] = task.name;
  j["cmd"] = task.cmd;
  SetTime(j, "start_time", task.start_time);
  SetTime(j, "end_time", task.end_time);
  if (task.exit_code) j["exit_code"] = *task.exit_code;
  j["stdout"] = TaskLogUrl(base_url, task.run_id, task.id, "stdout");
  j["stderr"] = TaskLogUrl(base_url, task.run_id, task.id, "stderr");
  j["system_logs"] = task.system_logs;
  // Extension (not in WES 1.1 TaskLog, which allows extra properties): the task's state.
  j["state"] = StateName(task.state);
  return j;
}

Json TaskListJson(const std::vector<store::TaskRecord>& tasks, const std::string& next_page_token,
                  std::string_view base_url) {
  Json rows = Json::array();
  for (const store::TaskRecord& t : tasks) rows.push_back(TaskLogJson(t, base_url));
  Json j = Json::object();
  j["task_logs"] = std::move(rows);
  j["next_page_token"] = next_page_token;
  return j;
}

Json ServiceInfoJson(const ServiceInfoInput& in) {
  Json j = Json::object();
  // GA4GH service-info 1.0 Service fields.
  j["id"] = in.id;
  j["name"] = in.name;
  j["type"] = {{"group", "org.ga4gh"}, {"artifact", "wes"}, {"version", "1.1.0"}};
  if (!in.description.empty()) j["description"] = in.description;
  j["organization"] = {{"name", in.organization_name}, {"url", in.organization_url}};
  if (!in.documentation_url.empty()) j["documentationUrl"] = in.documentation_url;
  j["version"] = in.version;

  // WES ServiceInfo fields.
  Json types = Json::object();
  for (const auto& [type, versions] : in.workflow_types) {
    types[type] = {{"workflow_type_version", versions}};
  }
  j["workflow_type_versions"] = std::move(types);
  j["supported_wes_versions"] = Json::array({"1.1.0"});
  j["supported_filesystem_protocols"] = Json::array({"file"});
  Json engines = Json::object();
  for (const auto& [engine, versions] : in.engines) {
    engines[engine] = {{"workflow_engine_version", versions}};
  }
  j["workflow_engine_versions"] = std::move(engines);
  j["default_workflow_engine_parameters"] = Json::array();
  Json counts = Json::object();
  for (int i = 0; i < kStateCount; ++i) {
    State s = static_cast<State>(i);
    auto it = in.state_counts.find(s);
    counts[std::string(StateName(s))] = it == in.state_counts.end() ? 0 : it->second;
  }
  j["system_state_counts"] = std::move(counts);
  j["auth_instructions_url"] = in.auth_instructions_url;
  j["tags"] = StringMapJson(in.tags);
  return j;
}

}  // namespace sluice::api
