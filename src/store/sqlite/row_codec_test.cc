#include "store/sqlite/row_codec.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace sluice::store::sqlite {
namespace {

TEST(RowCodecTest, StringMapRoundTrips) {
  StringMap tags = {{"project", "p1"},
                    {"quote\"d", "back\\slash"},
                    {"unicode", "\xC3\xA9t\xC3\xA9"},
                    {"empty", ""}};
  Result<std::string> text = EncodeStringMap(tags, "tags");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  Result<StringMap> back = DecodeStringMap(*text, "runs.tags");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, tags);
}

TEST(RowCodecTest, StringListRoundTripsInOrder) {
  std::vector<std::string> cmd = {"sh", "-c", "echo \"$X\"\n", "", "z", "a"};
  Result<std::string> text = EncodeStringList(cmd, "cmd");
  ASSERT_TRUE(text.ok());
  Result<std::vector<std::string>> back = DecodeStringList(*text, "tasks.cmd");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, cmd);
}

TEST(RowCodecTest, EmptyIsStoredAsEmptyText) {
  EXPECT_EQ(*EncodeStringMap({}, "tags"), "");
  EXPECT_TRUE(DecodeStringMap("", "runs.tags")->empty());
  EXPECT_TRUE(DecodeStringList("", "tasks.cmd")->empty());
  EXPECT_TRUE(DecodeStringMap("{}", "runs.tags")->empty());
  EXPECT_TRUE(DecodeStringList("[]", "tasks.cmd")->empty());
}

TEST(RowCodecTest, LaterDuplicateKeyWins) {
  Result<StringMap> m = DecodeStringMap(R"({"a":"1","a":"2"})", "runs.tags");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->at("a"), "2");
}

TEST(RowCodecTest, MalformedTextIsAnInternalErrorNamingTheColumn) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c :
       {Case{R"(["a"])", "not an object of strings"}, Case{R"({"a":1})", "not a string"},
        Case{R"({"a":null})", "not a string"},
        Case{R"({"a":{"b":"c"}})", "not an object of strings"},
        Case{R"({"a":["b"]})", "not an object of strings"}, Case{R"({"a":"b")", "invalid JSON"},
        Case{R"({"a":"b"} x)", "invalid JSON"}, Case{"\"a\"", "not an object of strings"}}) {
    Result<StringMap> m = DecodeStringMap(c.text, "runs.tags");
    ASSERT_FALSE(m.ok()) << c.text;
    EXPECT_EQ(m.status().code(), StatusCode::kInternal) << c.text;
    EXPECT_NE(m.status().message().find("runs.tags"), std::string::npos) << m.status().message();
    EXPECT_NE(m.status().message().find(c.says), std::string::npos) << m.status().message();
  }
  for (const char* text : {R"({"a":"b"})", R"(["a",["b"]])", R"(["a",2])", "[", "true"}) {
    Result<std::vector<std::string>> l = DecodeStringList(text, "tasks.cmd");
    EXPECT_FALSE(l.ok()) << text;
  }
}

// ReadTags on `SELECT ?1` with `bytes` bound as a blob (or text).
Result<StringMap> ReadTagsOf(std::string_view bytes, bool as_blob) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> db, Connection::Open(":memory:", {}));
  ASSIGN_OR_RETURN(Stmt stmt, db->Prepare("SELECT ?1"));
  RETURN_IF_ERROR(as_blob ? stmt.BindBlobOrNull(1, bytes) : stmt.BindTextOrNull(1, bytes));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Internal("no row");
  return ReadTags(stmt, 0);
}

TEST(RowCodecTest, TagsBlobRoundTripsAndOlderJsonTextStillReads) {
  StringMap tags = {{"a", ""}, {"long", std::string(300, 'x')}, {"z\n", "\xC3\xA9"}};
  std::string blob = EncodeTags(tags);
  EXPECT_EQ(blob.substr(0, 3), std::string("\x01"
                                           "a"
                                           "\x00",
                                           3));
  Result<StringMap> back = ReadTagsOf(blob, true);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, tags);
  Result<StringMap> json = ReadTagsOf(*EncodeStringMap(tags, "tags"), false);
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  EXPECT_EQ(*json, tags);
  EXPECT_EQ(EncodeTags({}), "");
  EXPECT_TRUE(ReadTagsOf("", true)->empty());  // bound as NULL
}

TEST(RowCodecTest, ACutShortTagsBlobIsAnInternalError) {
  std::string blob = EncodeTags({{"key", "value"}});
  for (size_t n = 1; n < blob.size(); ++n) {
    Result<StringMap> m = ReadTagsOf(blob.substr(0, n), true);
    ASSERT_FALSE(m.ok()) << n;
    EXPECT_EQ(m.status().code(), StatusCode::kInternal);
    EXPECT_NE(m.status().message().find("runs.tags"), std::string::npos);
  }
}

}  // namespace
}  // namespace sluice::store::sqlite
