#include "cli/output.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sluice::cli {
namespace {

TEST(FormatTable, AlignsColumnsWithoutTrailingBlanks) {
  std::string table = FormatTable({"RUN ID", "STATE", "TAGS"},
                                  {{"r1", "COMPLETE", "a=1"}, {"run-22", "RUNNING", ""}});
  EXPECT_EQ(table,
            "RUN ID  STATE     TAGS\n"
            "r1      COMPLETE  a=1\n"
            "run-22  RUNNING\n");
}

TEST(FormatTable, PadsShortRowsAndSkipsEmptyHeader) {
  EXPECT_EQ(FormatTable({}, {{"state:", "RUNNING"}, {"tasks:"}}),
            "state:  RUNNING\n"
            "tasks:\n");
  EXPECT_EQ(FormatTable({"A", "B"}, {}), "A  B\n");
}

TEST(StringField, ReadsStringsAndNumbersElseFallback) {
  Json j = {{"s", "x"}, {"n", 3}, {"o", Json::object()}, {"z", nullptr}};
  EXPECT_EQ(StringField(j, "s"), "x");
  EXPECT_EQ(StringField(j, "n"), "3");
  EXPECT_EQ(StringField(j, "o", "-"), "-");
  EXPECT_EQ(StringField(j, "z", "-"), "-");
  EXPECT_EQ(StringField(j, "missing", "-"), "-");
  EXPECT_EQ(StringField(Json::array(), "s", "-"), "-");
}

TEST(FormatTags, JoinsPairsInKeyOrder) {
  EXPECT_EQ(FormatTags(Json{{"b", "2"}, {"a", "1"}}), "a=1,b=2");
  EXPECT_EQ(FormatTags(Json{{"n", 5}}), "n=5");
  EXPECT_EQ(FormatTags(Json::object()), "");
  EXPECT_EQ(FormatTags(nullptr), "");
}

TEST(TaskState, PrefersStateFieldElseInfers) {
  EXPECT_EQ(TaskState(Json{{"state", "CANCELED"}, {"end_time", "t"}}), "CANCELED");
  EXPECT_EQ(TaskState(Json{{"start_time", "t"}, {"end_time", "t"}, {"exit_code", 0}}), "COMPLETE");
  EXPECT_EQ(TaskState(Json{{"start_time", "t"}, {"end_time", "t"}, {"exit_code", 3}}),
            "EXECUTOR_ERROR");
  EXPECT_EQ(TaskState(Json{{"start_time", "t"}}), "RUNNING");
  EXPECT_EQ(TaskState(Json{{"id", "t1"}}), "QUEUED");
}

TEST(FormatTaskSummary, CountsStatesInFirstSeenOrder) {
  std::vector<Json> tasks = {Json{{"state", "COMPLETE"}}, Json{{"state", "RUNNING"}},
                             Json{{"state", "COMPLETE"}}};
  EXPECT_EQ(FormatTaskSummary(tasks), "3 tasks: 2 COMPLETE, 1 RUNNING");
  EXPECT_EQ(FormatTaskSummary({Json{{"state", "QUEUED"}}}), "1 task: 1 QUEUED");
  EXPECT_EQ(FormatTaskSummary({}), "0 tasks");
}

TEST(FormatClockTime, IsHoursMinutesSeconds) {
  std::string t = FormatClockTime(1'700'000'000 * kMicrosPerSecond);
  ASSERT_EQ(t.size(), 8u);
  EXPECT_EQ(t[2], ':');
  EXPECT_EQ(t[5], ':');
}

}  // namespace
}  // namespace sluice::cli
