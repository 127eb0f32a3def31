#include "api/submit_request.h"

#include <gtest/gtest.h>

namespace sluice::api {
namespace {

constexpr std::string_view kCt = "multipart/form-data; boundary=BOUND";

class Form {
 public:
  Form& Field(std::string_view name, std::string_view value) {
    body_ += "--BOUND\r\nContent-Disposition: form-data; name=\"" + std::string(name) +
             "\"\r\n\r\n" + std::string(value) + "\r\n";
    return *this;
  }
  Form& File(std::string_view filename, std::string_view content) {
    body_ +=
        "--BOUND\r\nContent-Disposition: form-data; name=\"workflow_attachment\"; filename=\"" +
        std::string(filename) + "\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
        std::string(content) + "\r\n";
    return *this;
  }
  Form& Required() {
    return Field("workflow_type", "MOCK")
        .Field("workflow_type_version", "1.0")
        .Field("workflow_url", "mock://x");
  }
  std::string Body() const { return body_ + "--BOUND--\r\n"; }

 private:
  std::string body_;
};

TEST(ParseSubmitMultipart, EveryField) {
  std::string body = Form()
                         .Field("workflow_params", R"({"tasks": 3, "nested": {"a": [1, 2]}})")
                         .Field("workflow_type", "MOCK")
                         .Field("workflow_type_version", "1.0")
                         .Field("tags", R"({"project": "x", "owner": "me"})")
                         .Field("workflow_engine", "sluice")
                         .Field("workflow_engine_version", "0.1.0")
                         .Field("workflow_engine_parameters", R"({"threads": "4"})")
                         .Field("workflow_url", "main.json")
                         .File("main.json", "{}\r\n")
                         .File("lib/util.json", std::string("\0\r\n--BOUNDX", 11))
                         .Body();
  Result<service::SubmitRequest> r = ParseSubmitRequest(kCt, body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const store::RunRequest& q = r->request;
  EXPECT_EQ(q.workflow_params, R"({"nested":{"a":[1,2]},"tasks":3})");
  EXPECT_EQ(q.workflow_type, "MOCK");
  EXPECT_EQ(q.workflow_type_version, "1.0");
  EXPECT_EQ(q.tags, (store::StringMap{{"owner", "me"}, {"project", "x"}}));
  EXPECT_EQ(q.workflow_engine, "sluice");
  EXPECT_EQ(q.workflow_engine_version, "0.1.0");
  EXPECT_EQ(q.workflow_engine_parameters, (store::StringMap{{"threads", "4"}}));
  EXPECT_EQ(q.workflow_url, "main.json");
  ASSERT_EQ(r->attachments.size(), 2u);
  EXPECT_EQ(r->attachments[0].filename, "main.json");
  EXPECT_EQ(r->attachments[0].content, "{}\r\n");
  EXPECT_EQ(r->attachments[1].filename, "lib/util.json");
  EXPECT_EQ(r->attachments[1].content, std::string("\0\r\n--BOUNDX", 11));
  EXPECT_EQ(r->idempotency_key, "");
}

TEST(ParseSubmitMultipart, DefaultsWhenOptionalFieldsAreAbsentOrEmpty) {
  Result<service::SubmitRequest> r =
      ParseSubmitRequest(kCt, Form().Required().Field("tags", "").Body());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->request.workflow_params, "{}");
  EXPECT_TRUE(r->request.tags.empty());
  EXPECT_TRUE(r->attachments.empty());
}

TEST(ParseSubmitMultipart, ErrorsNameTheField) {
  struct Case {
    std::string name;
    std::string body;
    std::string want;  // message prefix
  };
  const Case cases[] = {
      {"missing type", Form().Field("workflow_type_version", "1").Field("workflow_url", "u").Body(),
       "workflow_type: required"},
      {"missing version", Form().Field("workflow_type", "MOCK").Field("workflow_url", "u").Body(),
       "workflow_type_version: required"},
      {"missing url",
       Form().Field("workflow_type", "MOCK").Field("workflow_type_version", "1").Body(),
       "workflow_url: required"},
      {"params not json", Form().Required().Field("workflow_params", "{nope").Body(),
       "workflow_params: invalid JSON"},
      {"params not object", Form().Required().Field("workflow_params", "[1]").Body(),
       "workflow_params: must be a JSON object"},
      {"tags not object", Form().Required().Field("tags", "\"x\"").Body(),
       "tags: must be a JSON object of strings"},
      {"tag not string", Form().Required().Field("tags", R"({"a": 1})").Body(),
       "tags.a: must be a string"},
      {"engine params not strings",
       Form().Required().Field("workflow_engine_parameters", R"({"n": true})").Body(),
       "workflow_engine_parameters.n: must be a string"},
      {"unknown field", Form().Required().Field("workflow_colour", "blue").Body(),
       "unknown form field 'workflow_colour'"},
      {"repeated field", Form().Required().Field("workflow_url", "again").Body(),
       "workflow_url: given more than once"},
      {"engine version without engine",
       Form().Required().Field("workflow_engine_version", "1").Body(), "workflow_engine: required"},
      {"attachment without filename", Form().Required().Field("workflow_attachment", "data").Body(),
       "workflow_attachment: "},
  };
  for (const Case& c : cases) {
    Result<service::SubmitRequest> r = ParseSubmitRequest(kCt, c.body);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(r.status().message().rfind(c.want, 0), 0u) << c.name << ": " << r.status().message();
  }
}

TEST(ParseSubmitRequest, ContentTypeErrorsNameTheHeader) {
  for (std::string_view ct : {"", "text/plain", "multipart/form-data", "???"}) {
    Result<service::SubmitRequest> r = ParseSubmitRequest(ct, "x");
    ASSERT_FALSE(r.ok()) << ct;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind("Content-Type: ", 0), 0u) << r.status().message();
  }
}

TEST(ParseSubmitJson, SameFieldsAsJsonValues) {
  Result<service::SubmitRequest> r = ParseSubmitRequest("application/json; charset=utf-8", R"({
      "workflow_params": {"tasks": 2},
      "workflow_type": "MOCK",
      "workflow_type_version": "1.0",
      "workflow_url": "mock://x",
      "tags": {"k": "v"},
      "workflow_engine_parameters": "{\"p\": \"q\"}"
  })");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->request.workflow_params, R"({"tasks":2})");
  EXPECT_EQ(r->request.tags, (store::StringMap{{"k", "v"}}));
  EXPECT_EQ(r->request.workflow_engine_parameters, (store::StringMap{{"p", "q"}}));
  EXPECT_EQ(r->request.workflow_url, "mock://x");
}

TEST(ParseSubmitJson, Errors) {
  struct Case {
    std::string body;
    std::string want;
  };
  const Case cases[] = {
      {"[]", "request body: must be a JSON object"},
      {"{", "request body: invalid JSON"},
      {R"({"workflow_type": "MOCK", "workflow_type_version": "1"})", "workflow_url: required"},
      {R"({"workflow_type": 3})", "workflow_type: must be a string"},
      {R"({"workflow_params": [], "workflow_type": "M"})",
       "workflow_params: must be a JSON object"},
      {R"({"bogus": 1})", "unknown field 'bogus'"},
      {R"({"workflow_attachment": []})", "workflow_attachment: "},
  };
  for (const Case& c : cases) {
    Result<service::SubmitRequest> r = ParseSubmitJson(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().message().rfind(c.want, 0), 0u) << c.body << ": " << r.status().message();
  }
}

}  // namespace
}  // namespace sluice::api
