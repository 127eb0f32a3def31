#include "common/clock.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(Iso8601, FormatsAndParsesRoundTrip) {
  Micros t = 1796036413123456;  // 2026-12-01T...
  EXPECT_EQ(ParseIso8601(FormatIso8601Micros(t)), t);
  EXPECT_EQ(ParseIso8601(FormatIso8601(t)), t - 123456);
  EXPECT_EQ(FormatIso8601(0), "1970-01-01T00:00:00Z");
}

TEST(Iso8601, FormatsCalendarDatesAndTimesBeforeTheEpoch) {
  EXPECT_EQ(FormatIso8601Micros(1796083213123456), "2026-12-01T00:00:13.123456Z");
  EXPECT_EQ(FormatIso8601(951868799000007), "2000-02-29T23:59:59Z");
  EXPECT_EQ(FormatIso8601Micros(-500000), "1969-12-31T23:59:59.500000Z");
  std::string out = "at ";
  AppendIso8601(out, 5, /*micros=*/true);
  EXPECT_EQ(out, "at 1970-01-01T00:00:00.000005Z");
}

TEST(Iso8601, AcceptsOffsetsAndRejectsGarbage) {
  EXPECT_EQ(ParseIso8601("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(ParseIso8601("1970-01-01T00:00:00.5Z"), 500000);
  EXPECT_FALSE(ParseIso8601("1970-01-01 00:00:00Z"));
  EXPECT_FALSE(ParseIso8601("1970-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseIso8601("1970-01-01T00:00:00"));
  EXPECT_FALSE(ParseIso8601("1970-01-01T00:00:00Zjunk"));
}

}  // namespace
}  // namespace sluice
