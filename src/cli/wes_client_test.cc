#include "cli/wes_client.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sluice::cli {
namespace {

TEST(ErrorFromResponse, UsesErrorResponseMsgAndHttpCode) {
  Status st = ErrorFromResponse({404, R"({"msg": "run abc not found", "status_code": 404})"});
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "404: run abc not found");
}

TEST(ErrorFromResponse, FallsBackToBodyThenStatus) {
  Status st = ErrorFromResponse({502, "Bad Gateway\n<html>"});
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(), "502: Bad Gateway");
  st = ErrorFromResponse({409, ""});
  EXPECT_EQ(st.code(), StatusCode::kConflict);
  EXPECT_EQ(st.message(), "409: HTTP 409");
}

TEST(HttpClient, ConnectionRefusedNamesServerAndHint) {
  // Port 1 on loopback is essentially never listening.
  HttpClient http("http://127.0.0.1:1");
  WesClient wes(http);
  Result<Json> r = wes.GetRunStatus("abc");
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(),
            "cannot reach http://127.0.0.1:1: Connection refused (is `sluice serve` running?)");
}

}  // namespace
}  // namespace sluice::cli
