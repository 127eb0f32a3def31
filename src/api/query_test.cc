#include "api/query.h"

#include <gtest/gtest.h>

namespace sluice::api {
namespace {

TEST(QueryParam, FindsDecodesAndReportsAbsence) {
  EXPECT_EQ(QueryParam("page_size=10&page_token=abc", "page_token"), "abc");
  EXPECT_EQ(QueryParam("page_size=10&page_token=a%3Db%2B+c", "page_token"), "a=b+ c");
  EXPECT_EQ(QueryParam("page_size=10", "page_token"), std::nullopt);
  EXPECT_EQ(QueryParam("", "page_token"), std::nullopt);
  EXPECT_EQ(QueryParam("flag", "flag"), "");
  EXPECT_EQ(QueryParam("x=1&x=2", "x"), "1");
  EXPECT_EQ(QueryParam("xx=1", "x"), std::nullopt);
  EXPECT_EQ(QueryParam("x=%zz%4", "x"), "%zz%4");
}

TEST(ParsePageSize, Table) {
  struct Case {
    std::string query;
    std::optional<int64_t> want;  // nullopt: kInvalidArgument naming page_size
  };
  const Case cases[] = {
      {"", 0},
      {"page_size=", 0},
      {"page_size=25", 25},
      {"page_token=x&page_size=0", std::nullopt},
      {"page_size=00", std::nullopt},
      {"page_size=1000000", 1000000},
      {"page_size=-1", std::nullopt},
      {"page_size=abc", std::nullopt},
      {"page_size=10abc", std::nullopt},
      {"page_size=+5", std::nullopt},
      {"page_size=%2010", std::nullopt},
      {"page_size=99999999999999999999999", std::nullopt},
  };
  for (const Case& c : cases) {
    Result<int64_t> got = ParsePageSize(c.query);
    if (c.want) {
      ASSERT_TRUE(got.ok()) << c.query << ": " << got.status().ToString();
      EXPECT_EQ(*got, *c.want) << c.query;
    } else {
      ASSERT_FALSE(got.ok()) << c.query;
      EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
      EXPECT_EQ(got.status().message().rfind("page_size: ", 0), 0u) << got.status().message();
    }
  }
}

TEST(ParseOffset, NamesOffset) {
  EXPECT_EQ(*ParseOffset("offset=1234"), 1234);
  EXPECT_EQ(*ParseOffset(""), 0);
  Result<int64_t> bad = ParseOffset("offset=x");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("offset: ", 0), 0u);
}

}  // namespace
}  // namespace sluice::api
