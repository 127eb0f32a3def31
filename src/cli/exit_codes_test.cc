#include "cli/exit_codes.h"

#include <gtest/gtest.h>

namespace sluice::cli {
namespace {

TEST(ExitCodeFor, MapsEveryStatusCode) {
  const std::pair<StatusCode, int> cases[] = {
      {StatusCode::kOk, 0},
      {StatusCode::kInvalidArgument, 2},
      {StatusCode::kPayloadTooLarge, 2},
      {StatusCode::kNotFound, 3},
      {StatusCode::kAlreadyExists, 4},
      {StatusCode::kFailedPrecondition, 4},
      {StatusCode::kConflict, 4},
      {StatusCode::kResourceExhausted, 5},
      {StatusCode::kUnavailable, 5},
      {StatusCode::kInternal, 5},
      {StatusCode::kIo, 5},
  };
  for (const auto& [code, want] : cases) {
    EXPECT_EQ(ExitCodeFor(code), want) << StatusCodeName(code);
  }
}

TEST(ExitCodeFor, HttpStatusesThroughStatusCodes) {
  const std::pair<long, int> cases[] = {
      {200, 0}, {204, 0}, {400, 2}, {401, 2}, {403, 2}, {404, 3}, {409, 4},
      {413, 2}, {429, 5}, {500, 5}, {502, 5}, {503, 5}, {0, 5},   {302, 5},
  };
  for (const auto& [http, want] : cases) {
    EXPECT_EQ(ExitCodeFor(StatusCodeFromHttp(http)), want) << "HTTP " << http;
  }
}

TEST(StatusCodeFromHttp, InvertsTheServerMapping) {
  EXPECT_EQ(StatusCodeFromHttp(400), StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeFromHttp(404), StatusCode::kNotFound);
  EXPECT_EQ(StatusCodeFromHttp(409), StatusCode::kConflict);
  EXPECT_EQ(StatusCodeFromHttp(413), StatusCode::kPayloadTooLarge);
  EXPECT_EQ(StatusCodeFromHttp(503), StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeFromHttp(500), StatusCode::kInternal);
}

}  // namespace
}  // namespace sluice::cli
