#include "api/multipart.h"

#include <gtest/gtest.h>

namespace sluice::api {
namespace {

std::string Crlf(std::string_view s) {
  // Tests write bodies with '\n'; the wire format is CRLF.
  std::string out;
  for (char c : s) {
    if (c == '\n')
      out += "\r\n";
    else
      out.push_back(c);
  }
  return out;
}

TEST(BoundaryFromContentType, TokenAndQuotedForms) {
  EXPECT_EQ(*BoundaryFromContentType("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(*BoundaryFromContentType("Multipart/Form-Data;boundary=\"a b:c\""), "a b:c");
  EXPECT_EQ(*BoundaryFromContentType("multipart/form-data; charset=utf-8; BOUNDARY=x;"), "x");
  EXPECT_EQ(*BoundaryFromContentType(
                "multipart/form-data; boundary=------------------------d74496d66958873e"),
            "------------------------d74496d66958873e");
}

TEST(BoundaryFromContentType, Rejects) {
  for (std::string_view ct : {"multipart/form-data", "multipart/form-data; boundary=",
                              "multipart/form-data; boundary=\"\"", "application/json; boundary=x",
                              "multipart/form-data; boundary=\"unterminated", "; boundary=x"}) {
    Result<std::string> b = BoundaryFromContentType(ct);
    ASSERT_FALSE(b.ok()) << ct;
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(b.status().message().rfind("Content-Type: ", 0), 0u) << b.status().message();
  }
  EXPECT_FALSE(
      BoundaryFromContentType("multipart/form-data; boundary=" + std::string(71, 'b')).ok());
}

TEST(ParseMultipart, FieldsAndFiles) {
  std::string body = Crlf(
      "--XyZ\n"
      "Content-Disposition: form-data; name=\"workflow_type\"\n"
      "\n"
      "MOCK\n"
      "--XyZ\n"
      "content-disposition: form-data; name=workflow_attachment; filename=\"main.asl.json\"\n"
      "Content-Type: application/json\n"
      "\n"
      "{\"StartAt\": \"A\"}\n"
      "--XyZ--\n");
  Result<std::vector<MultipartPart>> parts = ParseMultipart(body, "XyZ");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "workflow_type");
  EXPECT_EQ((*parts)[0].filename, std::nullopt);
  EXPECT_EQ((*parts)[0].data, "MOCK");
  EXPECT_EQ((*parts)[1].name, "workflow_attachment");
  EXPECT_EQ((*parts)[1].filename, "main.asl.json");
  EXPECT_EQ((*parts)[1].content_type, "application/json");
  EXPECT_EQ((*parts)[1].data, "{\"StartAt\": \"A\"}");
}

TEST(ParseMultipart, PreambleEpilogueEmptyPartAndPadding) {
  std::string body = Crlf(
      "This is a preamble.\n"
      "--b \t\n"
      "Content-Disposition: form-data; name=\"empty\"\n"
      "\n"
      "\n"
      "--b\n"
      "Content-Disposition: form-data; name=\"x\"\n"
      "\n"
      "1\n"
      "--b--\n"
      "epilogue --b\n");
  Result<std::vector<MultipartPart>> parts = ParseMultipart(body, "b");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].data, "");
  EXPECT_EQ((*parts)[1].data, "1");
}

TEST(ParseMultipart, BinaryContentWithCrlfAndNearBoundaries) {
  // The one thing a part may not contain is CRLF "--b" followed by CRLF or "--"; "--bx" is
  // fine and must be kept, as must lone CR, LF and NUL bytes.
  std::string safe("\x00\x01\r\r\n\n--b-\r\n--bx\r\n\xfe", 20);
  std::string body =
      "--b\r\nContent-Disposition: form-data; name=\"workflow_attachment\"; "
      "filename=\"blob.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n" +
      safe + "\r\n--b--";
  Result<std::vector<MultipartPart>> parts = ParseMultipart(body, "b");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].data, safe);
  EXPECT_EQ((*parts)[0].data.size(), 20u);
}

TEST(ParseMultipart, NestedAndOddFilenamesArePreserved) {
  struct Case {
    std::string disposition;
    std::string want;
  };
  const Case cases[] = {
      {"form-data; name=\"workflow_attachment\"; filename=\"sub/dir/tool.cwl\"",
       "sub/dir/tool.cwl"},
      {"form-data; name=\"workflow_attachment\"; filename=\"../../etc/passwd\"",
       "../../etc/passwd"},
      {"form-data; name=\"workflow_attachment\"; filename=plain.txt", "plain.txt"},
      {"form-data; name=\"workflow_attachment\"; filename=\"a \\\"quoted\\\" name;x=y\"",
       "a \"quoted\" name;x=y"},
      {"form-data; name=\"workflow_attachment\"; filename=\"C:\\dir\\file.txt\"",
       "C:\\dir\\file.txt"},
      {"form-data; name=\"workflow_attachment\"; filename*=UTF-8''caf%C3%A9.txt",
       "caf\xc3\xa9.txt"},
      {"form-data; filename=\"x\"; name=\"workflow_attachment\"", "x"},
  };
  for (const Case& c : cases) {
    std::string body = "--b\r\nContent-Disposition: " + c.disposition + "\r\n\r\ndata\r\n--b--\r\n";
    Result<std::vector<MultipartPart>> parts = ParseMultipart(body, "b");
    ASSERT_TRUE(parts.ok()) << c.disposition << ": " << parts.status().ToString();
    ASSERT_EQ(parts->size(), 1u);
    EXPECT_EQ((*parts)[0].name, "workflow_attachment");
    EXPECT_EQ((*parts)[0].filename, c.want) << c.disposition;
  }
}

TEST(ParseMultipart, RejectsMalformedBodies) {
  struct Case {
    std::string name;
    std::string body;
    std::string message_part;
  };
  const std::string part = "Content-Disposition: form-data; name=\"a\"\r\n\r\nvalue";
  const Case cases[] = {
      {"no opening boundary", "hello world", "opening boundary"},
      {"truncated content", "--b\r\n" + part, "truncated"},
      {"truncated after delimiter", "--b\r\n" + part + "\r\n--b", "closing boundary"},
      {"truncated headers", "--b\r\nContent-Disposition: form-data; name=\"a\"",
       "truncated headers"},
      {"garbage after boundary", "--b\r\n" + part + "\r\n--b--", ""},  // valid: control case
      {"no disposition", "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
       "Content-Disposition"},
      {"no name", "--b\r\nContent-Disposition: form-data; filename=\"f\"\r\n\r\nx\r\n--b--",
       "no name"},
      {"not form-data", "--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--b--",
       "not form-data"},
      {"bad header line", "--b\r\nno colon here\r\n\r\nx\r\n--b--", "malformed header"},
      {"empty body", "", "opening boundary"},
  };
  for (const Case& c : cases) {
    Result<std::vector<MultipartPart>> parts = ParseMultipart(c.body, "b");
    if (c.message_part.empty()) {
      EXPECT_TRUE(parts.ok()) << c.name;
      continue;
    }
    ASSERT_FALSE(parts.ok()) << c.name;
    EXPECT_EQ(parts.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(parts.status().message().find(c.message_part), std::string::npos)
        << c.name << ": " << parts.status().message();
  }
}

TEST(ParseMultipart, EnforcesLimits) {
  std::string body;
  for (int i = 0; i < 5; ++i)
    body += "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n";
  body += "--b--";
  MultipartLimits limits;
  limits.max_parts = 4;
  Result<std::vector<MultipartPart>> parts = ParseMultipart(body, "b", limits);
  ASSERT_FALSE(parts.ok());
  EXPECT_EQ(parts.status().code(), StatusCode::kPayloadTooLarge);
  limits.max_parts = 5;
  EXPECT_TRUE(ParseMultipart(body, "b", limits).ok());

  std::string big =
      "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: " + std::string(20000, 'p') +
      "\r\n\r\nx\r\n--b--";
  parts = ParseMultipart(big, "b");
  ASSERT_FALSE(parts.ok());
  EXPECT_EQ(parts.status().code(), StatusCode::kPayloadTooLarge);
}

TEST(ParseMultipart, NoPartsIsEmpty) {
  Result<std::vector<MultipartPart>> parts = ParseMultipart("--b--\r\n", "b");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  EXPECT_TRUE(parts->empty());
}

}  // namespace
}  // namespace sluice::api
