#include "store/sqlite/transition_rules.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace sluice::store::sqlite {
namespace {

using Rows = std::vector<std::pair<std::string, std::string>>;

TEST(PlanTagPatchTest, SetWinsOverRemoveAndUnchangedValuesChangeNothing) {
  StringMap tags = {{"keep", "1"}, {"same", "x"}, {"old", "a"}, {"gone", "g"}};
  TagPatch p = PlanTagPatch(tags, {{"same", "x"}, {"old", "b"}, {"new", "n"}, {"gone", "G"}},
                            {"gone", "missing", "keep"});
  EXPECT_EQ(p.drop, (Rows{{"keep", "1"}, {"gone", "g"}, {"old", "a"}}));
  EXPECT_EQ(p.insert, (Rows{{"gone", "G"}, {"new", "n"}, {"old", "b"}}));
  EXPECT_EQ(p.tags, (StringMap{{"gone", "G"}, {"new", "n"}, {"old", "b"}, {"same", "x"}}));
  EXPECT_EQ(p.change, "removed keep; set gone=G; set new=n; set old=b");
}

TEST(PlanTagPatchTest, NothingToDoIsAnEmptyChange) {
  StringMap tags = {{"a", "1"}};
  TagPatch p = PlanTagPatch(tags, {{"a", "1"}}, {"b"});
  EXPECT_TRUE(p.drop.empty());
  EXPECT_TRUE(p.insert.empty());
  EXPECT_EQ(p.tags, tags);
  EXPECT_EQ(p.change, "");
}

}  // namespace
}  // namespace sluice::store::sqlite
