#include "api/list_params.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "api/query.h"

namespace sluice::api {
namespace {

using Tags = std::vector<std::pair<std::string, std::string>>;

void ExpectBad(const Status& st, std::string_view names) {
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.message();
  EXPECT_NE(st.message().find(names), std::string::npos) << st.message();
}

TEST(QueryParams, ReturnsEveryValueInOrder) {
  EXPECT_EQ(QueryParams("tag=a:1&x=2&tag=b%3A2", "tag"), (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_TRUE(QueryParams("x=1", "tag").empty());
  EXPECT_EQ(QueryNames("a=1&b&&c=3"), (std::vector<std::string_view>{"a", "b", "c"}));
}

TEST(ParseTimeParam, AcceptsRfc3339DatesAndEpochSeconds) {
  EXPECT_EQ(*ParseTimeParam("t", "1970-01-01T00:00:10Z"), 10 * kMicrosPerSecond);
  EXPECT_EQ(*ParseTimeParam("t", "1970-01-01T01:00:10+01:00"), 10 * kMicrosPerSecond);
  EXPECT_EQ(*ParseTimeParam("t", "1970-01-02"), 86400 * kMicrosPerSecond);
  EXPECT_EQ(*ParseTimeParam("t", "1796036413"), 1796036413 * kMicrosPerSecond);
  ExpectBad(ParseTimeParam("submitted_after", "yesterday").status(), "submitted_after");
  ExpectBad(ParseTimeParam("submitted_after", "").status(), "submitted_after");
  ExpectBad(ParseTimeParam("to", "99999999999999999999").status(), "to");
}

TEST(ParseStatesParam, TakesRepeatsAndCommaListsCaseInsensitively) {
  Result<std::vector<State>> s =
      ParseStatesParam("state", {"running,queued", "COMPLETE", "RUNNING"});
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(*s, (std::vector<State>{State::kRunning, State::kQueued, State::kComplete}));
  ExpectBad(ParseStatesParam("state", {"RUNNING,"}).status(), "state");
  ExpectBad(ParseStatesParam("state", {"DONE"}).status(), "'DONE' is not a state");
}

TEST(ParseTagsParam, SplitsAtTheFirstColon) {
  Result<Tags> t = ParseTagsParam("tag", {"project:x", "url:http://h:1", "empty:"});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, (Tags{{"project", "x"}, {"url", "http://h:1"}, {"empty", ""}}));
  ExpectBad(ParseTagsParam("tag", {"novalue"}).status(), "key:value");
  ExpectBad(ParseTagsParam("tag", {":v"}).status(), "tag");
}

TEST(ParseRunListParams, ParsesEveryFilter) {
  Result<RunListParams> p = ParseRunListParams(
      "state=RUNNING,QUEUED&user=ann&tag=project:x&tag=stage:2&workflow_type=ASL&"
      "submitted_after=2026-01-01T00:00:00Z&submitted_before=1796036413&name=nightly&"
      "sort=updated_at&order=asc&total=true&fields=run_id,state&page_size=50",
      /*strict=*/true);
  ASSERT_TRUE(p.ok()) << p.status().message();
  const store::RunFilter& f = p->request.filter;
  EXPECT_EQ(f.states, (std::vector<State>{State::kRunning, State::kQueued}));
  EXPECT_EQ(f.user, "ann");
  EXPECT_EQ(f.tags, (Tags{{"project", "x"}, {"stage", "2"}}));
  EXPECT_EQ(f.workflow_type, "ASL");
  EXPECT_EQ(*f.submitted_after, *ParseIso8601("2026-01-01T00:00:00Z"));
  EXPECT_EQ(*f.submitted_before, 1796036413 * kMicrosPerSecond);
  EXPECT_EQ(f.name_prefix, "nightly");
  EXPECT_EQ(p->request.sort, store::RunSort::kUpdatedAsc);
  EXPECT_TRUE(p->request.total);
  EXPECT_EQ(p->request.page_size, 50);
  EXPECT_EQ(p->fields, (std::vector<std::string>{"run_id", "state"}));
  EXPECT_TRUE(p->extended);
}

TEST(ParseRunListParams, DefaultsToNewestFirstWithoutFilters) {
  Result<RunListParams> p = ParseRunListParams("page_token=abc", /*strict=*/true);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->request.filter.empty());
  EXPECT_EQ(p->request.sort, store::RunSort::kSubmittedDesc);
  EXPECT_EQ(p->request.page_token, "abc");
  EXPECT_FALSE(p->request.total);
  EXPECT_FALSE(p->extended);
  EXPECT_EQ(ParseRunListParams("sort=submitted_at&order=asc", true)->request.sort,
            store::RunSort::kSubmittedAsc);
  EXPECT_EQ(ParseRunListParams("sort=updated_at", true)->request.sort,
            store::RunSort::kUpdatedDesc);
}

TEST(ParseRunListParams, NamesTheBadParameter) {
  const std::pair<const char*, const char*> cases[] = {
      {"state=NOPE", "state"},
      {"tag=x", "tag"},
      {"sort=name", "sort"},
      {"order=up", "order"},
      {"total=maybe", "total"},
      {"fields=run_id,password", "fields"},
      {"submitted_after=soon", "submitted_after"},
      {"submitted_after=2000&submitted_before=1000", "submitted_before"},
      {"user=a&user=b", "user"},
      {"user=", "user"},
      {"name=", "name"},
      {"page_size=x", "page_size"},
      {"colour=red", "colour"},
  };
  for (const auto& [query, name] : cases) {
    SCOPED_TRACE(query);
    ExpectBad(ParseRunListParams(query, /*strict=*/true).status(), name);
  }
  // WES ignores what it does not know, but still rejects a bad filter.
  EXPECT_TRUE(ParseRunListParams("colour=red", /*strict=*/false).ok());
  EXPECT_FALSE(ParseRunListParams("fields=run_id", /*strict=*/false)->extended);
  ExpectBad(ParseRunListParams("state=NOPE", /*strict=*/false).status(), "state");
}

TEST(ParseEventStreamParams, PrefersTheHeaderForTheResumePoint) {
  Result<EventStreamParams> p =
      ParseEventStreamParams("run=abc&state=COMPLETE&tag=k:v&last_event_id=5", "9", false);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->filter.run_id, "abc");
  EXPECT_EQ(p->filter.states, (std::vector<State>{State::kComplete}));
  EXPECT_EQ(p->filter.tags, (Tags{{"k", "v"}}));
  EXPECT_EQ(p->after, 9);
  EXPECT_EQ(ParseEventStreamParams("last_event_id=5", "", false)->after, 5);
  EXPECT_FALSE(ParseEventStreamParams("", "", false)->after.has_value());
  ExpectBad(ParseEventStreamParams("", "x1", false).status(), "Last-Event-ID");
  ExpectBad(ParseEventStreamParams("last_event_id=-1", "", false).status(), "last_event_id");
  ExpectBad(ParseEventStreamParams("run=abc", "", /*run_scoped=*/true).status(), "run");
}

TEST(ParseStatsParams, DefaultsAndGroupings) {
  Micros now = 100LL * 86400 * kMicrosPerSecond;
  Result<store::StatsQuery> q = ParseStatsParams("", now);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->to, now);
  EXPECT_EQ(q->from, now - 30LL * 86400 * kMicrosPerSecond);
  EXPECT_EQ(q->group_by, store::StatsGroupBy::kDay);
  q = ParseStatsParams("from=1970-01-02&to=1970-01-05&group_by=tag:project", now);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->from, 86400 * kMicrosPerSecond);
  EXPECT_EQ(q->group_by, store::StatsGroupBy::kTag);
  EXPECT_EQ(q->tag_key, "project");
  EXPECT_EQ(GroupByName(*q), "tag:project");
  EXPECT_EQ(ParseStatsParams("group_by=workflow_type", now)->group_by,
            store::StatsGroupBy::kWorkflowType);
  ExpectBad(ParseStatsParams("group_by=tag:", now).status(), "group_by");
  ExpectBad(ParseStatsParams("group_by=month", now).status(), "group_by");
  ExpectBad(ParseStatsParams("from=10&to=5", now).status(), "from");
  ExpectBad(ParseStatsParams("bucket=day", now).status(), "bucket");
}

TEST(ParseTagsPatch, SetsRemovesAndRejectsAnythingElse) {
  Result<TagsPatch> p =
      ParseTagsPatch(R"({"tags": {"project": "x", "gone": null}, "remove_tags": ["old"]})");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->set, (store::StringMap{{"project", "x"}}));
  std::vector<std::string> removed = p->remove;
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<std::string>{"gone", "old"}));
  ExpectBad(ParseTagsPatch(R"({"tags": {"a": "1"}, "state": "COMPLETE"})").status(), "state");
  ExpectBad(ParseTagsPatch(R"({"tags": {"a": 1}})").status(), "tags.a");
  ExpectBad(ParseTagsPatch(R"({"tags": ["a"]})").status(), "tags");
  ExpectBad(ParseTagsPatch(R"({"tags": {}})").status(), "nothing to change");
  ExpectBad(ParseTagsPatch("[1]").status(), "body");
  ExpectBad(ParseTagsPatch("{").status(), "body");
  ExpectBad(ParseTagsPatch(R"({"tags": {"a": "1"}, "remove_tags": ["a"]})").status(), "tags.a");
}

}  // namespace
}  // namespace sluice::api
