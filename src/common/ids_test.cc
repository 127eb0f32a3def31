#include "common/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace sluice {
namespace {

TEST(RandomIdGenerator, MakesUniqueVersion7UuidsInTimeOrder) {
  RandomIdGenerator gen;
  std::set<std::string> seen;
  std::string prev;
  for (int i = 0; i < 1000; ++i) {
    std::string id = gen.NewId();
    ASSERT_EQ(id.size(), 36u) << id;
    EXPECT_EQ(id[14], '7') << id;  // version
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
    EXPECT_TRUE(IsValidId(id));
    EXPECT_TRUE(seen.insert(id).second) << "duplicate " << id;
    // The first 48 bits are the time in ms: never decreasing.
    if (!prev.empty()) {
      EXPECT_LE(prev.substr(0, 13), id.substr(0, 13));
    }
    prev = id;
  }
}

TEST(IsValidId, RefusesPathTricks) {
  EXPECT_TRUE(IsValidId("task-1"));
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId(".."));
  EXPECT_FALSE(IsValidId("a/b"));
  EXPECT_FALSE(IsValidId(std::string(65, 'a')));
}

}  // namespace
}  // namespace sluice
