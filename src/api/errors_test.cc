#include "api/errors.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sluice::api {
namespace {

TEST(HttpStatusFor, MapsEveryCode) {
  struct Case {
    StatusCode code;
    int http;
  };
  const Case cases[] = {
      {StatusCode::kOk, 200},
      {StatusCode::kInvalidArgument, 400},
      {StatusCode::kNotFound, 404},
      {StatusCode::kAlreadyExists, 409},
      {StatusCode::kFailedPrecondition, 409},
      {StatusCode::kConflict, 409},
      {StatusCode::kPayloadTooLarge, 413},
      {StatusCode::kResourceExhausted, 429},
      {StatusCode::kUnavailable, 503},
      {StatusCode::kInternal, 500},
      {StatusCode::kIo, 500},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(HttpStatusFor(c.code), c.http) << StatusCodeName(c.code);
  }
}

TEST(SetError, WritesErrorResponseBody) {
  HttpResponse res;
  SetError(res, NotFound("run abc not found"));
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.content_type, kJsonType);
  nlohmann::json j = nlohmann::json::parse(res.body);
  EXPECT_EQ(j, (nlohmann::json{{"msg", "run abc not found"}, {"status_code", 404}}));
  EXPECT_EQ(res.retry_after_seconds, 0);
}

TEST(SetError, UnavailableAsksToRetry) {
  HttpResponse res;
  SetError(res, Unavailable("shutting down"));
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.retry_after_seconds, 1);
}

TEST(ErrorResponseJson, EscapesAndSurvivesInvalidUtf8) {
  std::string body = ErrorResponseJson("bad \"x\"\n\xff", 400);
  nlohmann::json j = nlohmann::json::parse(body);
  EXPECT_EQ(j["status_code"], 400);
  EXPECT_EQ(j["msg"].get<std::string>().substr(0, 9), "bad \"x\"\n\xef");
}

}  // namespace
}  // namespace sluice::api
