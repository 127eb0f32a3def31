#include "cli/args.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sluice::cli {
namespace {

TEST(ParseKeyValue, SplitsAtFirstEquals) {
  auto kv = ParseKeyValue("sample=a=b", "--tag");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->first, "sample");
  EXPECT_EQ(kv->second, "a=b");

  kv = ParseKeyValue("empty=", "--tag");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->second, "");
}

TEST(ParseKeyValue, RefusesMissingKeyOrEquals) {
  for (const char* bad : {"novalue", "=v", ""}) {
    auto kv = ParseKeyValue(bad, "--engine-param");
    EXPECT_EQ(kv.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(kv.status().message().find("--engine-param: expected KEY=VALUE"), std::string::npos)
        << kv.status().message();
  }
}

TEST(KeyValuesToJson, BuildsObjectAndRefusesRepeats) {
  auto json = KeyValuesToJson({"a=1", "b=x y"}, "--tag");
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->dump(), R"({"a":"1","b":"x y"})");

  auto dup = KeyValuesToJson({"a=1", "a=2"}, "--tag");
  EXPECT_EQ(dup.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dup.status().message().find("\"a\" given twice"), std::string::npos);
}

TEST(AttachmentName, KeepsRelativePathsWithoutParentRefs) {
  const std::pair<const char*, const char*> cases[] = {
      {"main.cwl", "main.cwl"},
      {"tools/align.cwl", "tools/align.cwl"},
      {"./tools//align.cwl", "tools/align.cwl"},
      {"/data/wf/main.cwl", "main.cwl"},
      {"../main.cwl", "main.cwl"},
      {"tools/../../x/main.cwl", "main.cwl"},
  };
  for (const auto& [path, want] : cases) {
    auto name = AttachmentName(path);
    ASSERT_TRUE(name.ok()) << path << ": " << name.status().ToString();
    EXPECT_EQ(*name, want) << path;
    EXPECT_EQ(name->find(".."), std::string::npos) << path;
  }
}

TEST(AttachmentName, RefusesPathsWithoutAFileName) {
  for (const char* bad : {"", "/", ".", "..", "dir/", "a/.."}) {
    EXPECT_EQ(AttachmentName(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(JoinUrl, HandlesSlashes) {
  EXPECT_EQ(JoinUrl("http://h:1", "/ga4gh/wes/v1/runs"), "http://h:1/ga4gh/wes/v1/runs");
  EXPECT_EQ(JoinUrl("http://h:1/", "/runs"), "http://h:1/runs");
  EXPECT_EQ(JoinUrl("http://h:1//", "runs"), "http://h:1/runs");
  EXPECT_EQ(JoinUrl("http://h:1/prefix", "/runs?x=1"), "http://h:1/prefix/runs?x=1");
  EXPECT_EQ(JoinUrl("http://h:1/", ""), "http://h:1");
}

TEST(EscapeUrlComponent, EncodesAllButUnreserved) {
  EXPECT_EQ(EscapeUrlComponent("abc-1.2_~"), "abc-1.2_~");
  EXPECT_EQ(EscapeUrlComponent("a/b c?&="), "a%2Fb%20c%3F%26%3D");
  EXPECT_EQ(EscapeUrlComponent("\xC3\xA9"), "%C3%A9");
}

TEST(ReadTextFile, NamesWhatAndPathOnFailure) {
  auto missing = ReadTextFile("/nonexistent/params.json", "--params-file");
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("--params-file: cannot read /nonexistent/params.json"),
            std::string::npos)
      << missing.status().message();
  EXPECT_EQ(ReadTextFile("/", "--attach").status().code(), StatusCode::kInvalidArgument);
}

TEST(MoveClientOptionsAfterSubcommand, MovesLeadingServerAndJson) {
  using V = std::vector<std::string>;
  EXPECT_EQ(
      MoveClientOptionsAfterSubcommand(V{"sluice", "--server", "http://h:1", "list", "--all"}),
      (V{"sluice", "list", "--server", "http://h:1", "--all"}));
  EXPECT_EQ(
      MoveClientOptionsAfterSubcommand(V{"sluice", "--json", "--server=http://h:1", "status", "R"}),
      (V{"sluice", "status", "--json", "--server=http://h:1", "R"}));
  // Already after the subcommand, or nothing to move: unchanged.
  V after{"sluice", "status", "R", "--server", "http://h:1"};
  EXPECT_EQ(MoveClientOptionsAfterSubcommand(after), after);
  // No subcommand follows: left for CLI11 to report.
  V dangling{"sluice", "--server", "http://h:1"};
  EXPECT_EQ(MoveClientOptionsAfterSubcommand(dangling), dangling);
  V missing_value{"sluice", "--server"};
  EXPECT_EQ(MoveClientOptionsAfterSubcommand(missing_value), missing_value);
}

}  // namespace
}  // namespace sluice::cli
