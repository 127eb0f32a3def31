#include "asl/intrinsics.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <span>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "asl/path.h"

namespace sluice::asl {

uint64_t Random::Next() {
  // splitmix64
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double Random::NextDouble() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

namespace {

enum class Fn {
  kFormat,
  kStringToJson,
  kJsonToString,
  kArray,
  kArrayPartition,
  kArrayContains,
  kArrayRange,
  kArrayGetItem,
  kArrayLength,
  kArrayUnique,
  kBase64Encode,
  kBase64Decode,
  kHash,
  kJsonMerge,
  kMathRandom,
  kMathAdd,
  kStringSplit,
  kUuid,
};

struct FnInfo {
  std::string_view name;
  Fn fn;
  int min_args;
  int max_args;  // -1: no limit
};

constexpr FnInfo kFunctions[] = {
    {"States.Format", Fn::kFormat, 1, -1},
    {"States.StringToJson", Fn::kStringToJson, 1, 1},
    {"States.JsonToString", Fn::kJsonToString, 1, 1},
    {"States.Array", Fn::kArray, 0, -1},
    {"States.ArrayPartition", Fn::kArrayPartition, 2, 2},
    {"States.ArrayContains", Fn::kArrayContains, 2, 2},
    {"States.ArrayRange", Fn::kArrayRange, 3, 3},
    {"States.ArrayGetItem", Fn::kArrayGetItem, 2, 2},
    {"States.ArrayLength", Fn::kArrayLength, 1, 1},
    {"States.ArrayUnique", Fn::kArrayUnique, 1, 1},
    {"States.Base64Encode", Fn::kBase64Encode, 1, 1},
    {"States.Base64Decode", Fn::kBase64Decode, 1, 1},
    {"States.Hash", Fn::kHash, 2, 2},
    {"States.JsonMerge", Fn::kJsonMerge, 3, 3},
    {"States.MathRandom", Fn::kMathRandom, 2, 3},
    {"States.MathAdd", Fn::kMathAdd, 2, 2},
    {"States.StringSplit", Fn::kStringSplit, 2, 2},
    {"States.UUID", Fn::kUuid, 0, 0},
};

constexpr int kMaxNesting = 10;
constexpr int64_t kMaxArrayRange = 1000;
constexpr size_t kMaxEncodeChars = 10000;

const FnInfo* FindFunction(std::string_view name) {
  for (const FnInfo& f : kFunctions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool IsNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

struct ExprNode {
  enum class Kind { kCall, kLiteral, kPath };
  Kind kind = Kind::kLiteral;
  Value literal;
  // A string literal split at its unescaped "{}" (States.Format placeholders): escaped
  // braces are plain text here, which a value read from a path cannot express.
  std::vector<std::string> pieces;
  Path path;
  const FnInfo* fn = nullptr;
  std::vector<ExprNode> args;
};

using Node = ExprNode;

class CallParser {
 public:
  explicit CallParser(std::string_view text) : s_(text) {}

  Status ParseAll(Node* root) {
    RETURN_IF_ERROR(ParseCall(root, 1));
    SkipSpaces();
    if (pos_ < s_.size()) return Fail("unexpected text after the closing ')'");
    return Status::Ok();
  }

 private:
  Status Fail(const std::string& what, size_t at) const {
    return InvalidArgument(what + " at character " + std::to_string(at + 1) + " of '" +
                           std::string(s_) + "'");
  }
  Status Fail(const std::string& what) const { return Fail(what, pos_); }
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void SkipSpaces() {
    while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
  }

  Status ParseCall(Node* out, int depth) {
    size_t start = pos_;
    if (s_.substr(pos_, 7) != "States.")
      return Fail("expected an intrinsic function States.<Name>(...)");
    pos_ += 7;
    while (IsNameChar(Peek())) ++pos_;
    std::string_view name = s_.substr(start, pos_ - start);
    if (Peek() != '(') return Fail("expected '(' after " + std::string(name));
    out->fn = FindFunction(name);
    if (out->fn == nullptr) return Fail("unknown function '" + std::string(name) + "'", start);
    if (depth > kMaxNesting) {
      return Fail(
          "intrinsic functions may be nested at most " + std::to_string(kMaxNesting) + " deep",
          start);
    }
    out->kind = Node::Kind::kCall;
    ++pos_;  // '('
    SkipSpaces();
    if (Peek() == ')') {
      ++pos_;
    } else {
      while (true) {
        SkipSpaces();
        Node arg;
        RETURN_IF_ERROR(ParseArg(&arg, depth));
        out->args.push_back(std::move(arg));
        SkipSpaces();
        if (Peek() == ',') {
          ++pos_;
          continue;
        }
        if (Peek() == ')') {
          ++pos_;
          break;
        }
        if (pos_ >= s_.size()) return Fail("missing ')' for " + std::string(name), start);
        return Fail(std::string("expected ',' or ')', found '") + Peek() + "'");
      }
    }
    int n = static_cast<int>(out->args.size());
    const FnInfo& f = *out->fn;
    if (n < f.min_args || (f.max_args >= 0 && n > f.max_args)) {
      std::string expected = f.min_args == f.max_args ? std::to_string(f.min_args)
                             : f.max_args < 0
                                 ? "at least " + std::to_string(f.min_args)
                                 : std::to_string(f.min_args) + " to " + std::to_string(f.max_args);
      return Fail(std::string(f.name) + " takes " + expected + " argument" +
                      (expected == "1" ? "" : "s") + ", got " + std::to_string(n),
                  start);
    }
    if (f.fn == Fn::kFormat && out->args[0].kind == Node::Kind::kLiteral) {
      const Node& tmpl = out->args[0];
      if (!tmpl.literal.is_string())
        return Fail("States.Format: the template must be a string", start);
      size_t placeholders = tmpl.pieces.size() - 1;
      if (placeholders != out->args.size() - 1) {
        return Fail("States.Format: the template has " + std::to_string(placeholders) +
                        " {} placeholder(s) but " + std::to_string(out->args.size() - 1) +
                        " value(s) follow",
                    start);
      }
    }
    return Status::Ok();
  }

  Status ParseArg(Node* out, int depth) {
    char c = Peek();
    if (c == '\'') return ParseString(out);
    if (c == '$') return ParsePathArg(out);
    if (c == '-' || IsDigit(c)) return ParseNumber(out);
    if (s_.substr(pos_, 7) == "States.") return ParseCall(out, depth + 1);
    for (std::string_view word : {"true", "false", "null"}) {
      if (s_.substr(pos_, word.size()) == word &&
          !IsNameChar(s_.size() > pos_ + word.size() ? s_[pos_ + word.size()] : '\0')) {
        pos_ += word.size();
        out->kind = Node::Kind::kLiteral;
        out->literal = word == "null" ? Value(nullptr) : Value(word == "true");
        return Status::Ok();
      }
    }
    if (pos_ >= s_.size()) return Fail("missing argument");
    return Fail(std::string("unexpected character '") + c +
                "' (an argument is a 'string', a number, true, false, null, a path or a call)");
  }

  Status ParseString(Node* out) {
    size_t start = pos_++;
    std::string text;
    std::vector<std::string> pieces(1);
    while (true) {
      if (pos_ >= s_.size()) return Fail("unterminated string", start);
      char c = s_[pos_++];
      if (c == '\'') break;
      if (c == '\\') {
        char e = Peek();
        if (e != '\'' && e != '{' && e != '}' && e != '\\') {
          return Fail("a backslash must be followed by ', {, } or \\", pos_ - 1);
        }
        ++pos_;
        text.push_back(e);
        pieces.back().push_back(e);
        continue;
      }
      if (c == '{' && Peek() == '}') {
        ++pos_;
        text += "{}";
        pieces.emplace_back();
        continue;
      }
      text.push_back(c);
      pieces.back().push_back(c);
    }
    out->kind = Node::Kind::kLiteral;
    out->literal = std::move(text);
    out->pieces = std::move(pieces);
    return Status::Ok();
  }

  Status ParseNumber(Node* out) {
    size_t start = pos_;
    if (Peek() == '-') ++pos_;
    while (pos_ < s_.size() &&
           (IsDigit(s_[pos_]) || s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E' ||
            s_[pos_] == '+' || (s_[pos_] == '-' && (s_[pos_ - 1] == 'e' || s_[pos_ - 1] == 'E')))) {
      ++pos_;
    }
    Value number = Value::parse(s_.substr(start, pos_ - start), nullptr, false);
    if (number.is_discarded() || !number.is_number()) return Fail("bad number", start);
    out->kind = Node::Kind::kLiteral;
    out->literal = std::move(number);
    return Status::Ok();
  }

  // A path runs to the next ',' or ')' outside brackets (filters may contain both).
  Status ParsePathArg(Node* out) {
    size_t start = pos_;
    int brackets = 0;
    char quote = '\0';
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (quote != '\0') {
        if (c == '\\')
          ++pos_;
        else if (c == quote)
          quote = '\0';
      } else if (brackets > 0 && (c == '\'' || c == '"')) {
        quote = c;
      } else if (c == '[') {
        ++brackets;
      } else if (c == ']') {
        --brackets;
      } else if (brackets == 0 && (c == ',' || c == ')' || IsSpace(c))) {
        break;
      }
      ++pos_;
    }
    auto path = Path::Parse(s_.substr(start, pos_ - start));
    if (!path.ok()) {
      return InvalidArgument("bad path argument in '" + std::string(s_) +
                             "': " + path.status().message());
    }
    out->kind = Node::Kind::kPath;
    out->path = std::move(path).value();
    return Status::Ok();
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------
// Evaluation

// An evaluated argument: a pointer into the input/context/literal, or a computed value.
struct Arg {
  const Value* ptr = nullptr;
  Value owned;
  const Value& get() const { return ptr != nullptr ? *ptr : owned; }
  Value Take() { return ptr != nullptr ? *ptr : std::move(owned); }
};

ErrorInfo Failure(const FnInfo& f, const std::string& what) {
  return ErrorInfo{std::string(errors::kIntrinsicFailure), std::string(f.name) + ": " + what};
}

ErrorInfo WrongType(const FnInfo& f, size_t index, std::string_view expected, const Value& got) {
  return Failure(f, "argument " + std::to_string(index + 1) + " must be " + std::string(expected) +
                        ", got " + std::string(JsonTypeName(got)));
}

// An integral number (2 and 2.0 both count) that fits in int64.
bool AsInteger(const Value& v, int64_t* out) {
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return true;
  }
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > 9.2e18) return false;
    *out = static_cast<int64_t>(d);
    return true;
  }
  return false;
}

// AWS rounds non-integer MathAdd/MathRandom arguments to the nearest integer, halves up
// (Java's Math.round): 1.5 -> 2, -1.5 -> -1.
bool RoundToInteger(const Value& v, int64_t* out) {
  if (AsInteger(v, out)) return true;
  if (!v.is_number_float()) return false;
  double r = std::floor(v.get<double>() + 0.5);
  if (!std::isfinite(r) || std::fabs(r) > 9.2e18) return false;
  *out = static_cast<int64_t>(r);
  return true;
}

size_t CountChars(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool IsValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0xFF >> (len + 1));
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

// A text that is equal for values JsonEquals calls equal (members sorted, 1.0 as 1).
void CanonicalKey(const Value& v, std::string* out) {
  int64_t i = 0;
  switch (v.type()) {
    case Value::value_t::object: {
      std::vector<std::pair<const std::string*, const Value*>> members;
      for (const auto& [key, value] : v.items()) members.emplace_back(&key, &value);
      std::sort(members.begin(), members.end(),
                [](const auto& a, const auto& b) { return *a.first < *b.first; });
      out->push_back('{');
      for (const auto& [key, value] : members) {
        *out += Value(*key).dump(-1, ' ', false, Value::error_handler_t::replace);
        out->push_back(':');
        CanonicalKey(*value, out);
        out->push_back(',');
      }
      out->push_back('}');
      return;
    }
    case Value::value_t::array:
      out->push_back('[');
      for (const Value& e : v) {
        CanonicalKey(e, out);
        out->push_back(',');
      }
      out->push_back(']');
      return;
    case Value::value_t::number_float:
      if (AsInteger(v, &i)) {
        *out += std::to_string(i);
        return;
      }
      [[fallthrough]];
    default:
      *out += v.dump(-1, ' ', false, Value::error_handler_t::replace);
  }
}

std::string FormatScalar(const Value& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, Value::error_handler_t::replace);
}

EvalResult<Value> Format(const FnInfo& f, const Node& call, std::span<Arg> args) {
  const Value& tmpl = args[0].get();
  if (!tmpl.is_string()) return WrongType(f, 0, "a string (the template)", tmpl);
  std::vector<std::string> split;
  const std::vector<std::string>* pieces = &call.args[0].pieces;
  if (call.args[0].kind != Node::Kind::kLiteral) {
    const std::string& s = tmpl.get_ref<const std::string&>();
    size_t start = 0;
    for (size_t at = s.find("{}"); at != std::string::npos; at = s.find("{}", start)) {
      split.push_back(s.substr(start, at - start));
      start = at + 2;
    }
    split.push_back(s.substr(start));
    pieces = &split;
  }
  if (pieces->size() != args.size()) {
    return Failure(f, "the template has " + std::to_string(pieces->size() - 1) +
                          " {} placeholder(s) but " + std::to_string(args.size() - 1) +
                          " value(s) were given");
  }
  std::string out = (*pieces)[0];
  for (size_t i = 1; i < args.size(); ++i) {
    const Value& v = args[i].get();
    if (v.is_array() || v.is_object()) {
      return WrongType(f, i, "a string, number, boolean or null", v);
    }
    out += FormatScalar(v);
    out += (*pieces)[i];
  }
  return Value(std::move(out));
}

EvalResult<Value> Base64Encode(const FnInfo& f, const Value& v) {
  if (!v.is_string()) return WrongType(f, 0, "a string", v);
  const std::string& s = v.get_ref<const std::string&>();
  if (CountChars(s) > kMaxEncodeChars) {
    return Failure(f, "the input has more than 10000 characters");
  }
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<size_t>(n));
  return Value(std::move(out));
}

EvalResult<Value> Base64Decode(const FnInfo& f, const Value& v) {
  if (!v.is_string()) return WrongType(f, 0, "a string", v);
  const std::string& s = v.get_ref<const std::string&>();
  if (CountChars(s) > kMaxEncodeChars) {
    return Failure(f, "the input has more than 10000 characters");
  }
  // Standard alphabet with padding: '=' only as the last one or two characters. (OpenSSL's
  // decoder alone would also take '=' elsewhere.)
  size_t padding = 0;
  while (padding < 2 && padding < s.size() && s[s.size() - 1 - padding] == '=') ++padding;
  bool valid = s.size() % 4 == 0;
  for (size_t i = 0; valid && i + padding < s.size(); ++i) {
    char c = s[i];
    valid = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '+' || c == '/';
  }
  if (!valid) return Failure(f, "the input is not valid base64");
  std::string out(s.size() / 4 * 3 + 1, '\0');
  int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return Failure(f, "the input is not valid base64");
  out.resize(static_cast<size_t>(n) - padding);
  if (!IsValidUtf8(out)) return Failure(f, "the decoded data is not UTF-8 text");
  return Value(std::move(out));
}

EvalResult<Value> Hash(const FnInfo& f, const Value& data, const Value& algorithm) {
  if (!data.is_string()) return WrongType(f, 0, "a string", data);
  if (!algorithm.is_string()) return WrongType(f, 1, "a string (the algorithm)", algorithm);
  const std::string& s = data.get_ref<const std::string&>();
  if (CountChars(s) > kMaxEncodeChars) {
    return Failure(f, "the input has more than 10000 characters");
  }
  const std::string& alg = algorithm.get_ref<const std::string&>();
  const EVP_MD* md = alg == "MD5"       ? EVP_md5()
                     : alg == "SHA-1"   ? EVP_sha1()
                     : alg == "SHA-256" ? EVP_sha256()
                     : alg == "SHA-384" ? EVP_sha384()
                     : alg == "SHA-512" ? EVP_sha512()
                                        : nullptr;
  if (md == nullptr) {
    return Failure(f,
                   "unknown algorithm '" + alg + "' (use MD5, SHA-1, SHA-256, SHA-384 or SHA-512)");
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(s.data(), s.size(), digest, &len, md, nullptr) != 1) {
    return Failure(f, "the hash could not be computed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xF]);
  }
  return Value(std::move(hex));
}

EvalResult<Value> ArrayRange(const FnInfo& f, std::span<Arg> args) {
  int64_t v[3];
  for (size_t i = 0; i < 3; ++i) {
    if (!AsInteger(args[i].get(), &v[i])) return WrongType(f, i, "an integer", args[i].get());
  }
  if (v[2] == 0) return Failure(f, "the step (argument 3) must not be 0");
  Value out = Value::array();
  if ((v[2] > 0 && v[0] > v[1]) || (v[2] < 0 && v[0] < v[1])) return out;
  // In long double: the span of two int64 values may not fit in an int64.
  long double count =
      std::floor((static_cast<long double>(v[1]) - v[0]) / static_cast<long double>(v[2])) + 1;
  if (count > kMaxArrayRange) {
    return Failure(
        f, "the range would have more than " + std::to_string(kMaxArrayRange) + " elements");
  }
  for (int64_t k = 0, x = v[0]; k < static_cast<int64_t>(count); ++k, x += v[2]) {
    out.push_back(x);
  }
  return out;
}

EvalResult<Value> StringSplit(const FnInfo& f, const Value& text, const Value& delimiters) {
  if (!text.is_string()) return WrongType(f, 0, "a string", text);
  if (!delimiters.is_string()) return WrongType(f, 1, "a string", delimiters);
  const std::string& s = text.get_ref<const std::string&>();
  const std::string& d = delimiters.get_ref<const std::string&>();
  // Every character of the delimiter string splits (AWS: "a.b+c" split by ".+" gives 3
  // parts), and empty parts are dropped.
  std::vector<std::string_view> delims;
  for (size_t i = 0; i < d.size();) {
    size_t len = 1;
    while (i + len < d.size() && (static_cast<unsigned char>(d[i + len]) & 0xC0) == 0x80) ++len;
    delims.push_back(std::string_view(d).substr(i, len));
    i += len;
  }
  Value out = Value::array();
  std::string current;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80) ++len;
    std::string_view ch = std::string_view(s).substr(i, len);
    bool split = false;
    for (std::string_view delim : delims) split = split || delim == ch;
    if (split) {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current += ch;
    }
    i += len;
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

std::string Uuid(Random& random) {
  uint64_t hi = random.Next();
  uint64_t lo = random.Next();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;                  // version 4
  lo = (lo & ~(0xC000ULL << 48)) | (0x8000ULL << 48);  // variant 10xx
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

EvalResult<Value> Call(const Node& call, std::span<Arg> args, Random& random) {
  const FnInfo& f = *call.fn;
  switch (f.fn) {
    case Fn::kFormat:
      return Format(f, call, args);
    case Fn::kStringToJson: {
      const Value& v = args[0].get();
      if (!v.is_string()) return WrongType(f, 0, "a string", v);
      Value parsed = Value::parse(v.get_ref<const std::string&>(), nullptr, false);
      if (parsed.is_discarded()) return Failure(f, "the argument is not valid JSON text");
      return parsed;
    }
    case Fn::kJsonToString:
      return Value(args[0].get().dump(-1, ' ', false, Value::error_handler_t::replace));
    case Fn::kArray: {
      Value out = Value::array();
      out.get_ref<Value::array_t&>().reserve(args.size());
      for (Arg& a : args) out.push_back(a.Take());
      return out;
    }
    case Fn::kArrayPartition: {
      const Value& arr = args[0].get();
      if (!arr.is_array()) return WrongType(f, 0, "an array", arr);
      int64_t size = 0;
      if (!AsInteger(args[1].get(), &size) || size <= 0) {
        return Failure(f, "the chunk size (argument 2) must be a positive integer");
      }
      Value out = Value::array();
      for (size_t i = 0; i < arr.size(); i += static_cast<size_t>(size)) {
        Value chunk = Value::array();
        for (size_t k = i; k < arr.size() && k < i + static_cast<size_t>(size); ++k) {
          chunk.push_back(arr[k]);
        }
        out.push_back(std::move(chunk));
      }
      return out;
    }
    case Fn::kArrayContains: {
      const Value& arr = args[0].get();
      if (!arr.is_array()) return WrongType(f, 0, "an array", arr);
      for (const Value& e : arr) {
        if (JsonEquals(e, args[1].get())) return Value(true);
      }
      return Value(false);
    }
    case Fn::kArrayRange:
      return ArrayRange(f, args);
    case Fn::kArrayGetItem: {
      const Value& arr = args[0].get();
      if (!arr.is_array()) return WrongType(f, 0, "an array", arr);
      int64_t index = 0;
      if (!AsInteger(args[1].get(), &index) || index < 0) {
        return Failure(f, "the index (argument 2) must be a non-negative integer");
      }
      if (static_cast<uint64_t>(index) >= arr.size()) {
        return Failure(f, "index " + std::to_string(index) + " is out of range for an array of " +
                              std::to_string(arr.size()) + " elements");
      }
      return arr[static_cast<size_t>(index)];
    }
    case Fn::kArrayLength: {
      const Value& arr = args[0].get();
      if (!arr.is_array()) return WrongType(f, 0, "an array", arr);
      return Value(static_cast<int64_t>(arr.size()));
    }
    case Fn::kArrayUnique: {
      const Value& arr = args[0].get();
      if (!arr.is_array()) return WrongType(f, 0, "an array", arr);
      std::unordered_set<std::string> seen;
      Value out = Value::array();
      std::string key;
      for (const Value& e : arr) {
        key.clear();
        CanonicalKey(e, &key);
        if (seen.insert(key).second) out.push_back(e);
      }
      return out;
    }
    case Fn::kBase64Encode:
      return Base64Encode(f, args[0].get());
    case Fn::kBase64Decode:
      return Base64Decode(f, args[0].get());
    case Fn::kHash:
      return Hash(f, args[0].get(), args[1].get());
    case Fn::kJsonMerge: {
      if (!args[0].get().is_object()) return WrongType(f, 0, "an object", args[0].get());
      if (!args[1].get().is_object()) return WrongType(f, 1, "an object", args[1].get());
      const Value& deep = args[2].get();
      if (!deep.is_boolean()) return WrongType(f, 2, "a boolean", deep);
      if (deep.get<bool>()) {
        return Failure(f, "only the shallow merge (false as argument 3) is supported");
      }
      Value out = args[0].Take();
      for (const auto& [key, value] : args[1].get().items()) out[key] = value;
      return out;
    }
    case Fn::kMathRandom: {
      int64_t start = 0;
      int64_t end = 0;
      if (!RoundToInteger(args[0].get(), &start)) return WrongType(f, 0, "a number", args[0].get());
      if (!RoundToInteger(args[1].get(), &end)) return WrongType(f, 1, "a number", args[1].get());
      if (start > end) return Failure(f, "the start must not be greater than the end");
      uint64_t draw = 0;
      if (args.size() == 3) {
        int64_t seed = 0;
        if (!RoundToInteger(args[2].get(), &seed)) {
          return WrongType(f, 2, "an integer (the seed)", args[2].get());
        }
        Random seeded(static_cast<uint64_t>(seed));
        draw = seeded.Next();
      } else {
        draw = random.Next();
      }
      // Inclusive of both ends; the multiply-shift maps a 64-bit draw onto the span.
      unsigned __int128 span = static_cast<unsigned __int128>(static_cast<uint64_t>(end) -
                                                              static_cast<uint64_t>(start)) +
                               1;
      uint64_t offset = static_cast<uint64_t>((static_cast<unsigned __int128>(draw) * span) >> 64);
      return Value(static_cast<int64_t>(static_cast<uint64_t>(start) + offset));
    }
    case Fn::kMathAdd: {
      int64_t a = 0;
      int64_t b = 0;
      if (!RoundToInteger(args[0].get(), &a)) return WrongType(f, 0, "a number", args[0].get());
      if (!RoundToInteger(args[1].get(), &b)) return WrongType(f, 1, "a number", args[1].get());
      int64_t sum = 0;
      if (__builtin_add_overflow(a, b, &sum)) return Failure(f, "the sum is out of range");
      return Value(sum);
    }
    case Fn::kStringSplit:
      return StringSplit(f, args[0].get(), args[1].get());
    case Fn::kUuid:
      return Value(Uuid(random));
  }
  return Failure(f, "not implemented");
}

EvalResult<Arg> EvalNode(const Node& node, const Value& input, const Value& context,
                         Random& random) {
  Arg arg;
  switch (node.kind) {
    case Node::Kind::kLiteral:
      arg.ptr = &node.literal;
      return arg;
    case Node::Kind::kPath: {
      arg.ptr = node.path.Select(input, context);
      if (arg.ptr == nullptr) {
        EvalResult<Value> v = node.path.Evaluate(input, context);
        if (!v.ok()) return v.error();
        arg.owned = std::move(v).value();
      }
      return arg;
    }
    case Node::Kind::kCall: {
      // Most calls have a few arguments: keep them on the stack.
      constexpr size_t kInline = 4;
      std::array<Arg, kInline> inline_args;
      std::vector<Arg> heap_args(node.args.size() > kInline ? node.args.size() : 0);
      std::span<Arg> args = node.args.size() > kInline
                                ? std::span<Arg>(heap_args)
                                : std::span<Arg>(inline_args.data(), node.args.size());
      for (size_t i = 0; i < node.args.size(); ++i) {
        EvalResult<Arg> r = EvalNode(node.args[i], input, context, random);
        if (!r.ok()) return r.error();
        args[i] = std::move(r).value();
      }
      EvalResult<Value> v = Call(node, args, random);
      if (!v.ok()) return v.error();
      arg.owned = std::move(v).value();
      return arg;
    }
  }
  return arg;
}

}  // namespace

struct Intrinsic::Node {
  ExprNode expr;
  std::string text;
};

bool Intrinsic::LooksLikeCall(std::string_view text) {
  if (text.substr(0, 7) != "States.") return false;
  size_t i = 7;
  while (i < text.size() && IsNameChar(text[i])) ++i;
  return i > 7 && i < text.size() && text[i] == '(';
}

Result<Intrinsic> Intrinsic::Parse(std::string_view text) {
  auto root = std::make_shared<Node>();
  RETURN_IF_ERROR(CallParser(text).ParseAll(&root->expr));
  root->text = std::string(text);
  Intrinsic out;
  out.root_ = std::move(root);
  return out;
}

Intrinsic::Intrinsic() = default;
Intrinsic::~Intrinsic() = default;
Intrinsic::Intrinsic(const Intrinsic&) = default;
Intrinsic& Intrinsic::operator=(const Intrinsic&) = default;
Intrinsic::Intrinsic(Intrinsic&&) noexcept = default;
Intrinsic& Intrinsic::operator=(Intrinsic&&) noexcept = default;

const std::string& Intrinsic::text() const {
  static const std::string kEmpty;
  return root_ ? root_->text : kEmpty;
}

EvalResult<Value> Intrinsic::Evaluate(const Value& input, const Value& context,
                                      Random& random) const {
  if (!root_) {
    return ErrorInfo{std::string(errors::kIntrinsicFailure), "empty intrinsic function"};
  }
  EvalResult<Arg> r = EvalNode(root_->expr, input, context, random);
  if (!r.ok()) return r.error();
  return std::move(r).value().Take();
}

}  // namespace sluice::asl
