#include "cli/sse.h"

#include <gtest/gtest.h>

namespace sluice::cli {
namespace {

TEST(SseParser, ParsesEventsSplitAnywhere) {
  const std::string stream =
      "retry: 2000\n\n: keep-alive\n\nid: 7\nevent: RunStateChanged\ndata: {\"a\":1}\n\n"
      "event: end\r\ndata: x\r\ndata: y\r\n\r\ndata: plain\r\r";
  // Every split point gives the same events.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SCOPED_TRACE(cut);
    SseParser p;
    std::vector<SseEvent> events = p.Feed(std::string_view(stream).substr(0, cut));
    for (SseEvent& e : p.Feed(std::string_view(stream).substr(cut))) events.push_back(e);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].id, "7");
    EXPECT_EQ(events[0].event, "RunStateChanged");
    EXPECT_EQ(events[0].data, "{\"a\":1}");
    EXPECT_EQ(events[1].event, "end");
    EXPECT_EQ(events[1].data, "x\ny");
    EXPECT_EQ(events[1].id, "");
    EXPECT_EQ(events[2].event, "message");
    EXPECT_EQ(events[2].data, "plain");
    EXPECT_EQ(p.retry_ms(), 2000);
  }
}

TEST(SseParser, KeepsAnIncompleteEventForLater) {
  SseParser p;
  EXPECT_TRUE(p.Feed("id: 1\ndata: a\n").empty());
  std::vector<SseEvent> e = p.Feed("\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].data, "a");
}

}  // namespace
}  // namespace sluice::cli
