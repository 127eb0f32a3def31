#include "api/router.h"

#include <gtest/gtest.h>

#include <vector>

#include "api/handlers/handlers.h"

namespace sluice::api {
namespace {

void A(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&) {}
void B(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&) {}
void C(ApiContext&, const HttpRequest&, const PathParams&, HttpResponse&) {}

Router TestRouter() {
  return Router({
      {HttpMethod::kGet, "/v1/runs/{}/status", &A},
      {HttpMethod::kGet, "/v1/runs", &B},
      {HttpMethod::kPost, "/v1/runs", &C, true},
      {HttpMethod::kGet, "/v1/runs/{}/tasks/{}/logs/{}", &A},
  });
}

TEST(Router, MatchesAndCaptures) {
  Router r = TestRouter();
  Router::Match m = r.Find(HttpMethod::kGet, "/v1/runs/abc-1/status");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->handler, &A);
  ASSERT_EQ(m.params.count, 1);
  EXPECT_EQ(m.params[0], "abc-1");

  m = r.Find(HttpMethod::kGet, "/v1/runs/r/tasks/t/logs/stdout");
  ASSERT_NE(m.route, nullptr);
  ASSERT_EQ(m.params.count, 3);
  EXPECT_EQ(m.params[0], "r");
  EXPECT_EQ(m.params[1], "t");
  EXPECT_EQ(m.params[2], "stdout");
}

TEST(Router, PicksByMethodAndMarksBlocking) {
  Router r = TestRouter();
  Router::Match post = r.Find(HttpMethod::kPost, "/v1/runs");
  ASSERT_NE(post.route, nullptr);
  EXPECT_EQ(post.route->handler, &C);
  EXPECT_TRUE(post.route->blocking);
  Router::Match get = r.Find(HttpMethod::kGet, "/v1/runs/");
  ASSERT_NE(get.route, nullptr);
  EXPECT_EQ(get.route->handler, &B);
  EXPECT_FALSE(get.route->blocking);
  Router::Match head = r.Find(HttpMethod::kHead, "/v1/runs");
  ASSERT_NE(head.route, nullptr);
  EXPECT_EQ(head.route->handler, &B);
}

TEST(Router, WrongMethodGivesAllowUnknownPathGivesNothing) {
  Router r = TestRouter();
  Router::Match m = r.Find(HttpMethod::kDelete, "/v1/runs");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allow, "GET, HEAD, POST");
  m = r.Find(HttpMethod::kPost, "/v1/runs/x/status");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allow, "GET, HEAD");

  for (std::string_view path :
       {"/v1/run", "/v1/runs/x", "/v1/runs/x/status/y", "/v1/runs//status", "", "v1/runs", "/"}) {
    m = r.Find(HttpMethod::kGet, path);
    EXPECT_EQ(m.route, nullptr) << path;
    EXPECT_EQ(m.allow, "") << path;
  }
}


}  // namespace
}  // namespace sluice::api
