// The WES 1.1 API of the real binary: shapes, validation errors, pagination, idempotency.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "harness.h"

namespace sluice::testing {
namespace {

class WesApiTest : public ::testing::Test {
 protected:
  TempDir dir_;
  ServerProcess server_{dir_.path(), {"--max-body-bytes", "200000"}};

  void ExpectError(const HttpResponse& r, long code, const std::string& needle) {
    EXPECT_EQ(r.status, code) << r.body;
    json j = r.Json();
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_EQ(j.value("status_code", 0), code) << r.body;
    EXPECT_NE(j.value("msg", "").find(needle), std::string::npos)
        << "msg should mention \"" << needle << "\": " << r.body;
  }
};

TEST_F(WesApiTest, ServiceInfoHasEveryRequiredFieldAndLiveCounts) {
  SubmitMock(server_, {{"tasks", 1}, {"task_seconds", 0}});
  HttpResponse r = HttpGet(server_.wes() + "/service-info");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = r.Json();
  for (const char* field :
       {"id", "name", "type", "organization", "version", "workflow_type_versions",
        "supported_wes_versions", "supported_filesystem_protocols", "workflow_engine_versions",
        "default_workflow_engine_parameters", "system_state_counts", "auth_instructions_url",
        "tags"}) {
    EXPECT_TRUE(j.contains(field)) << field << " missing in " << r.body;
  }
  EXPECT_EQ(j["type"]["artifact"], "wes");
  EXPECT_EQ(j["workflow_type_versions"]["MOCK"]["workflow_type_version"], json({"1.0"}));
  EXPECT_NE(std::find(j["supported_wes_versions"].begin(), j["supported_wes_versions"].end(),
                      "1.1.0"),
            j["supported_wes_versions"].end());
  int64_t total = 0;
  for (auto& [state, n] : j["system_state_counts"].items()) total += n.get<int64_t>();
  EXPECT_EQ(total, 1);
  EXPECT_TRUE(j["system_state_counts"].contains("COMPLETE"));
}

TEST_F(WesApiTest, JsonSubmissionIsStoredAsSubmitted) {
  std::string id = SubmitMock(server_, {{"tasks", 2}, {"task_seconds", 0}}, {{"project", "p1"}});
  HttpResponse r = HttpGet(server_.wes() + "/runs/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  json j = r.Json();
  EXPECT_EQ(j["run_id"], id);
  EXPECT_EQ(j["request"]["workflow_type"], "MOCK");
  EXPECT_EQ(j["request"]["workflow_params"]["tasks"], 2);
  EXPECT_EQ(j["request"]["tags"]["project"], "p1");
  EXPECT_NE(j.value("task_logs_url", "").find("/runs/" + id + "/tasks"), std::string::npos);
  HttpResponse s = HttpGet(server_.wes() + "/runs/" + id + "/status");
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.Json()["run_id"], id);
  EXPECT_TRUE(s.Json()["state"].is_string());
}

TEST_F(WesApiTest, MultipartSubmissionWithAttachments) {
  std::string binary("line1\r\n--not-a-boundary\r\n\0\x01\x02", 30);
  HttpResponse r = HttpPostForm(
      server_.wes() + "/runs",
      {{"workflow_type", "MOCK", ""},
       {"workflow_type_version", "1.0", ""},
       {"workflow_url", "mock://with-files", ""},
       {"workflow_params", R"({"tasks": 1, "task_seconds": 0})", ""},
       {"tags", R"({"user": "ada"})", ""},
       {"workflow_engine_parameters", R"({"threads": "4"})", ""},
       {"workflow_attachment", binary, "inputs/data.bin"},
       {"workflow_attachment", "hello", "README.txt"}});
  ASSERT_EQ(r.status, 200) << r.body;
  std::string id = r.Json()["run_id"];
  std::ifstream in(dir_.path() + "/runs/" + id + "/attachments/inputs/data.bin", std::ios::binary);
  std::stringstream got;
  got << in.rdbuf();
  EXPECT_EQ(got.str(), binary);
  json run = HttpGet(server_.wes() + "/runs/" + id).Json();
  EXPECT_EQ(run["request"]["tags"]["user"], "ada");
  EXPECT_EQ(run["request"]["workflow_engine_parameters"]["threads"], "4");
}

TEST_F(WesApiTest, BadRequestsSayWhatIsWrongAndStoreNothing) {
  auto post = [&](const json& body) {
    return HttpPost(server_.wes() + "/runs", body.dump(), "application/json");
  };
  json good = {{"workflow_type", "MOCK"},
               {"workflow_type_version", "1.0"},
               {"workflow_url", "mock://x"},
               {"workflow_params", {{"tasks", 1}}}};
  json j = good;
  j.erase("workflow_type");
  ExpectError(post(j), 400, "workflow_type");
  j = good;
  j["workflow_type"] = "WDL";
  ExpectError(post(j), 400, "workflow_type");
  j = good;
  j["workflow_type_version"] = "9";
  ExpectError(post(j), 400, "workflow_type_version");
  j = good;
  j["workflow_params"] = {{"tasks", -1}};
  ExpectError(post(j), 400, "workflow_params.tasks");
  j = good;
  j["tags"] = {{"k", 1}};
  ExpectError(post(j), 400, "tags");
  ExpectError(HttpPost(server_.wes() + "/runs", "{not json", "application/json"), 400, "JSON");
  ExpectError(HttpPostForm(server_.wes() + "/runs",
                           {{"workflow_type", "MOCK", ""},
                            {"workflow_type_version", "1.0", ""},
                            {"workflow_url", "mock://x", ""},
                            {"workflow_params", "{tasks: 1}", ""}}),
              400, "workflow_params");
  ExpectError(HttpPostForm(server_.wes() + "/runs",
                           {{"workflow_type", "MOCK", ""},
                            {"workflow_type_version", "1.0", ""},
                            {"workflow_url", "mock://x", ""},
                            {"workflow_attachment", "x", "../../etc/passwd"}}),
              400, "workflow_attachment");
  ExpectError(HttpPost(server_.wes() + "/runs", std::string(300000, 'x'), "application/json"),
              413, "");
  // Nothing was stored by any of these.
  json list = HttpGet(server_.wes() + "/runs").Json();
  EXPECT_TRUE(list["runs"].empty()) << list.dump();
}

TEST_F(WesApiTest, UnknownRunsAndTasksAre404) {
  ExpectError(HttpGet(server_.wes() + "/runs/no-such-run"), 404, "no-such-run");
  ExpectError(HttpGet(server_.wes() + "/runs/no-such-run/status"), 404, "no-such-run");
  ExpectError(HttpGet(server_.wes() + "/runs/no-such-run/tasks"), 404, "no-such-run");
  ExpectError(HttpPost(server_.wes() + "/runs/no-such-run/cancel", "", "application/json"), 404,
              "no-such-run");
  std::string id = SubmitMock(server_, {{"tasks", 1}, {"task_seconds", 0}});
  ExpectError(HttpGet(server_.wes() + "/runs/" + id + "/tasks/no-such-task"), 404,
              "no-such-task");
  EXPECT_EQ(HttpGet(server_.wes() + "/no-such-endpoint").status, 404);
  ExpectError(HttpGet(server_.wes() + "/runs?page_size=abc"), 400, "page_size");
  ExpectError(HttpGet(server_.wes() + "/runs?page_size=0"), 400, "page_size");
  ExpectError(HttpGet(server_.wes() + "/runs?page_token=garbage"), 400, "page_token");
}

TEST_F(WesApiTest, IdempotencyKeyReturnsTheSameRun) {
  json body = {{"workflow_type", "MOCK"},
               {"workflow_type_version", "1.0"},
               {"workflow_url", "mock://x"},
               {"workflow_params", {{"tasks", 1}, {"task_seconds", 0}}}};
  auto a = HttpPost(server_.wes() + "/runs", body.dump(), "application/json",
                    {"Idempotency-Key: nightly-2026-11-30"});
  auto b = HttpPost(server_.wes() + "/runs", body.dump(), "application/json",
                    {"Idempotency-Key: nightly-2026-11-30"});
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_EQ(a.Json()["run_id"], b.Json()["run_id"]);
  json list = HttpGet(server_.wes() + "/runs").Json();
  EXPECT_EQ(list["runs"].size(), 1u);
  body["workflow_params"]["tasks"] = 2;
  auto c = HttpPost(server_.wes() + "/runs", body.dump(), "application/json",
                    {"Idempotency-Key: nightly-2026-11-30"});
  EXPECT_EQ(c.status, 409) << c.body;
}

TEST_F(WesApiTest, PagingYieldsEveryRunOnceNewestFirstWhileRunsArrive) {
  std::vector<std::string> ids;
  for (int i = 0; i < 250; ++i) {
    ids.push_back(SubmitMock(server_, {{"tasks", 1}, {"task_seconds", 0}}));
  }
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop) SubmitMock(server_, {{"tasks", 1}, {"task_seconds", 0}});
  });
  std::vector<std::string> seen;
  std::string token;
  bool started = false;
  for (int page = 0; page < 100; ++page) {
    HttpResponse r = HttpGet(server_.wes() + "/runs?page_size=20" +
                             (token.empty() ? "" : "&page_token=" + token));
    ASSERT_EQ(r.status, 200) << r.body;
    json j = r.Json();
    EXPECT_LE(j["runs"].size(), 20u);
    for (auto& run : j["runs"]) {
      ASSERT_TRUE(run.contains("tags")) << run.dump();
      std::string id = run["run_id"];
      if (id == ids.back()) started = true;
      if (started) seen.push_back(id);
    }
    token = j.value("next_page_token", "");
    if (token.empty()) break;
  }
  stop = true;
  writer.join();
  std::vector<std::string> expected(ids.rbegin(), ids.rend());
  EXPECT_EQ(seen, expected);
}

}  // namespace
}  // namespace sluice::testing
