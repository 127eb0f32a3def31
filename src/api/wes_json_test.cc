#include "api/wes_json.h"

#include <gtest/gtest.h>

#include "common/clock.h"

namespace sluice::api {
namespace {

constexpr Micros kT0 = 1764500413LL * kMicrosPerSecond;  // 2025-11-30T11:00:13Z
const std::string kBase = "http://wes.example:8080";

store::RunRecord SampleRun() {
  store::RunRecord r;
  r.id = "run-1";
  r.seq = 7;
  r.request.workflow_type = "MOCK";
  r.request.workflow_type_version = "1.0";
  r.request.workflow_url = "mock://pipeline";
  r.request.workflow_params = R"({"tasks":2})";
  r.request.tags = {{"project", "p1"}};
  r.state = State::kRunning;
  r.start_time = kT0;
  r.system_logs = {"started"};
  r.outputs = R"({"out":"file:///x"})";
  return r;
}

TEST(AppendRunStatusJson, Exact) {
  std::string out = "prefix:";
  AppendRunStatusJson(out, {"run-1", State::kExecutorError});
  EXPECT_EQ(out, R"(prefix:{"run_id":"run-1","state":"EXECUTOR_ERROR"})");
}

TEST(AppendJsonString, EscapesLikeJson) {
  std::string s("a\"b\\c\nd\x01\te\xc3\xa9", 12);
  std::string out;
  AppendJsonString(out, s);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\u0001\\te\xc3\xa9\"");
  EXPECT_EQ(Json::parse(out).get<std::string>(), s);
}

TEST(RunLogJson, ExactDocument) {
  Json want = R"({
    "run_id": "run-1",
    "request": {
      "workflow_params": {"tasks": 2},
      "workflow_type": "MOCK",
      "workflow_type_version": "1.0",
      "tags": {"project": "p1"},
      "workflow_engine_parameters": {},
      "workflow_url": "mock://pipeline"
    },
    "state": "RUNNING",
    "run_log": {
      "name": "mock://pipeline",
      "start_time": "2025-11-30T11:00:13Z",
      "system_logs": ["started"]
    },
    "task_logs_url": "http://wes.example:8080/ga4gh/wes/v1/runs/run-1/tasks",
    "task_logs": null,
    "outputs": {"out": "file:///x"}
  })"_json;
  EXPECT_EQ(RunLogJson(SampleRun(), kBase), want);
}

TEST(RunLogJson, EndedRunHasEndTimeAndEngine) {
  store::RunRecord r = SampleRun();
  r.state = State::kComplete;
  r.end_time = kT0 + 61 * kMicrosPerSecond;
  r.request.workflow_engine = "sluice";
  r.request.workflow_engine_version = "0.1.0";
  Json j = RunLogJson(r, kBase);
  EXPECT_EQ(j["state"], "COMPLETE");
  EXPECT_EQ(j["run_log"]["end_time"], "2025-11-30T11:01:14Z");
  EXPECT_EQ(j["request"]["workflow_engine"], "sluice");
  EXPECT_EQ(j["request"]["workflow_engine_version"], "0.1.0");
}

std::string SummaryText(const store::RunRecord& run) {
  std::string out;
  AppendRunSummaryJson(out, run);
  return out;
}

TEST(RunSummaryJson, ExactRowAndList) {
  EXPECT_EQ(SummaryText(SampleRun()),
            R"({"run_id":"run-1","start_time":"2025-11-30T11:00:13Z","state":"RUNNING",)"
            R"("tags":{"project":"p1"}})");
  std::string list = RunListBody({SampleRun()}, "", std::nullopt, &AppendRunSummaryJson);
  EXPECT_EQ(Json::parse(list),
            (Json{{"runs", Json::array({Json::parse(SummaryText(SampleRun()))})},
                  {"next_page_token", ""}}));
  store::RunRecord queued;
  queued.id = "q";
  queued.state = State::kQueued;
  EXPECT_EQ(SummaryText(queued), R"({"run_id":"q","state":"QUEUED","tags":{}})");
  store::RunRecord ended = SampleRun();
  ended.end_time = kT0 + 61 * kMicrosPerSecond;
  ended.request.tags["quote\"d"] = "line\nbreak";
  EXPECT_EQ(Json::parse(SummaryText(ended)),
            R"({"end_time": "2025-11-30T11:01:14Z", "run_id": "run-1", "state": "RUNNING",
                "start_time": "2025-11-30T11:00:13Z",
                "tags": {"project": "p1", "quote\"d": "line\nbreak"}})"_json);
}

TEST(RunRowJson, AllFieldsOrOnlyThoseAsked) {
  store::RunRecord r = SampleRun();
  r.user = "ana";
  r.name = "sample-1";
  r.request.workflow_type = "MOCK";
  r.submitted_at = kT0;
  r.updated_at = kT0 + 5;
  std::string all;
  AppendRunRowJson(all, r, {});
  EXPECT_EQ(Json::parse(all), R"({"name": "sample-1", "run_id": "run-1",
      "start_time": "2025-11-30T11:00:13Z", "state": "RUNNING",
      "submitted_at": "2025-11-30T11:00:13.000000Z", "tags": {"project": "p1"},
      "updated_at": "2025-11-30T11:00:13.000005Z", "user": "ana", "workflow_type": "MOCK"})"_json);
  std::string some;
  AppendRunRowJson(some, r, {"state", "run_id"});
  EXPECT_EQ(some, R"({"run_id":"run-1","state":"RUNNING"})");
  std::string page = RunListBody({r}, "tok", ListTotal{7, false},
                                 [](std::string& out, const store::RunRecord& run) {
                                   AppendRunRowJson(out, run, {"run_id"});
                                 });
  EXPECT_EQ(page, R"({"next_page_token":"tok","runs":[{"run_id":"run-1"}],"total":7,)"
                  R"("total_is_estimate":true})");
}

TEST(TaskLogJson, ExactDocumentWithLogUrls) {
  store::TaskRecord t;
  t.run_id = "run-1";
  t.id = "task-3";
  t.name = "align";
  t.cmd = {"bwa", "mem", "ref.fa"};
  t.state = State::kComplete;
  t.exit_code = 0;
  t.start_time = kT0;
  t.end_time = kT0 + kMicrosPerSecond;
  t.system_logs = {"host=a"};
  Json want = R"({
    "id": "task-3",
    "name": "align",
    "cmd": ["bwa", "mem", "ref.fa"],
    "start_time": "2025-11-30T11:00:13Z",
    "end_time": "2025-11-30T11:00:14Z",
    "exit_code": 0,
    "stdout": "http://wes.example:8080/api/v1/runs/run-1/tasks/task-3/logs/stdout",
    "stderr": "http://wes.example:8080/api/v1/runs/run-1/tasks/task-3/logs/stderr",
    "system_logs": ["host=a"],
    "state": "COMPLETE"
  })"_json;
  EXPECT_EQ(TaskLogJson(t, kBase), want);

  Json list = TaskListJson({t}, "tok", kBase);
  EXPECT_EQ(list["next_page_token"], "tok");
  ASSERT_EQ(list["task_logs"].size(), 1u);
  EXPECT_EQ(list["task_logs"][0], want);

  t.exit_code.reset();
  t.end_time.reset();
  Json running = TaskLogJson(t, kBase);
  EXPECT_FALSE(running.contains("exit_code"));
  EXPECT_FALSE(running.contains("end_time"));
}

TEST(ServiceInfoJson, RequiredFieldsAndEveryStateCounted) {
  ServiceInfoInput in;
  in.id = "sluice";
  in.name = "Sluice";
  in.version = "0.1.0";
  in.organization_name = "Org";
  in.organization_url = "http://org/";
  in.auth_instructions_url = "http://wes/";
  in.workflow_types = {{"MOCK", {"1.0"}}, {"ASL", {"1.0", "2.0"}}};
  in.engines = {{"sluice", {"0.1.0"}}};
  in.state_counts = {{State::kRunning, 3}, {State::kComplete, 10}};
  Json j = ServiceInfoJson(in);
  for (const char* key : {"id", "name", "type", "organization", "version", "workflow_type_versions",
                          "supported_wes_versions", "supported_filesystem_protocols",
                          "workflow_engine_versions", "default_workflow_engine_parameters",
                          "system_state_counts", "auth_instructions_url", "tags"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["type"], R"({"group": "org.ga4gh", "artifact": "wes", "version": "1.1.0"})"_json);
  EXPECT_EQ(j["organization"], R"({"name": "Org", "url": "http://org/"})"_json);
  EXPECT_EQ(j["supported_wes_versions"], R"(["1.1.0"])"_json);
  EXPECT_EQ(j["supported_filesystem_protocols"], R"(["file"])"_json);
  EXPECT_EQ(j["workflow_type_versions"],
            R"({"ASL": {"workflow_type_version": ["1.0", "2.0"]},
                "MOCK": {"workflow_type_version": ["1.0"]}})"_json);
  EXPECT_EQ(j["workflow_engine_versions"],
            R"({"sluice": {"workflow_engine_version": ["0.1.0"]}})"_json);
  EXPECT_EQ(j["default_workflow_engine_parameters"], Json::array());
  EXPECT_EQ(j["system_state_counts"].size(), static_cast<size_t>(kStateCount));
  EXPECT_EQ(j["system_state_counts"]["RUNNING"], 3);
  EXPECT_EQ(j["system_state_counts"]["COMPLETE"], 10);
  EXPECT_EQ(j["system_state_counts"]["QUEUED"], 0);
  EXPECT_EQ(j["system_state_counts"]["PREEMPTED"], 0);
  EXPECT_EQ(j["tags"], Json::object());
}

}  // namespace
}  // namespace sluice::api
