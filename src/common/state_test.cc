#include "common/state.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(State, NamesRoundTrip) {
  for (int i = 0; i < kStateCount; ++i) {
    auto s = static_cast<State>(i);
    EXPECT_EQ(ParseState(StateName(s)), s);
  }
  EXPECT_FALSE(ParseState("DONE"));
}

TEST(State, OnlyMovesForwardAndTerminalSticks) {
  EXPECT_TRUE(IsForwardTransition(State::kQueued, State::kRunning));
  EXPECT_TRUE(IsForwardTransition(State::kRunning, State::kComplete));
  EXPECT_TRUE(IsForwardTransition(State::kQueued, State::kCanceled));
  EXPECT_TRUE(IsForwardTransition(State::kRunning, State::kCanceling));
  EXPECT_TRUE(IsForwardTransition(State::kCanceling, State::kCanceled));
  EXPECT_FALSE(IsForwardTransition(State::kRunning, State::kQueued));
  EXPECT_FALSE(IsForwardTransition(State::kRunning, State::kRunning));
  EXPECT_FALSE(IsForwardTransition(State::kComplete, State::kExecutorError));
  EXPECT_FALSE(IsForwardTransition(State::kCanceled, State::kRunning));
  EXPECT_FALSE(IsForwardTransition(State::kCanceling, State::kRunning));
}

}  // namespace
}  // namespace sluice
