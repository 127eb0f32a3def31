#include "asl/path.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace sluice::asl {
namespace {

struct FilterExpr;

// One step of a path. `deep` marks a step written after `..` (deep scan).
struct Segment {
  enum class Type { kName, kIndex, kWildcard, kNames, kIndexes, kSlice, kFilter };
  Type type = Type::kName;
  bool deep = false;
  size_t pos = 0;  // where the step starts in the text, for messages
  std::string name;
  int64_t index = 0;
  std::vector<std::string> names;
  std::vector<int64_t> indexes;
  std::optional<int64_t> from;
  std::optional<int64_t> to;
  std::shared_ptr<const FilterExpr> filter;
};

// A plain chain of names and indexes: evaluated with a few lookups, no allocation.
bool IsSimple(const std::vector<Segment>& segments) {
  for (const Segment& s : segments) {
    if (s.deep || (s.type != Segment::Type::kName && s.type != Segment::Type::kIndex)) {
      return false;
    }
  }
  return true;
}

// Jayway's rule: only single names and single indexes are definite, plus a union of names
// as the last step (it merges into one object).
bool IsDefiniteChain(const std::vector<Segment>& segments) {
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& s = segments[i];
    if (s.deep) return false;
    if (s.type == Segment::Type::kName || s.type == Segment::Type::kIndex) continue;
    if (s.type == Segment::Type::kNames && i + 1 == segments.size()) continue;
    return false;
  }
  return true;
}

struct Operand {
  enum class Kind { kLiteral, kCurrent, kRoot };
  Kind kind = Kind::kLiteral;
  Value literal;
  std::vector<Segment> segments;
  bool simple = true;
  bool definite = true;
};

struct FilterExpr {
  enum class Op { kOr, kAnd, kNot, kExists, kEq, kNe, kLt, kLe, kGt, kGe };
  Op op = Op::kExists;
  std::unique_ptr<FilterExpr> left;
  std::unique_ptr<FilterExpr> right;
  Operand a;
  Operand b;
};

// ---------------------------------------------------------------------------------------
// Parsing

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  // Reference Path rules are checked afterwards, on the parsed steps (Path::Parse).
  Status ParsePath(bool* context, std::vector<Segment>* segments) {
    if (s_.empty() || s_[0] != '$') return Fail("a path must start with '$'", 0);
    pos_ = 1;
    *context = false;
    if (pos_ < s_.size() && s_[pos_] == '$') {
      *context = true;
      ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] != '.' && s_[pos_] != '[') {
      if (!*context && (std::isalpha(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
        return Fail("workflow variables ($name) are not supported", 0);
      }
      return Fail(std::string("expected '.' or '[' after '$', found '") + s_[pos_] + "'", pos_);
    }
    RETURN_IF_ERROR(ParseSegments(/*in_filter=*/false, segments));
    if (pos_ < s_.size()) {
      return Fail(std::string("unexpected character '") + s_[pos_] + "'", pos_);
    }
    return Status::Ok();
  }

 private:
  Status Fail(const std::string& what, size_t at) const {
    return InvalidArgument(what + " at character " + std::to_string(at + 1) + " of '" +
                           std::string(s_) + "'");
  }
  Status Fail(const std::string& what) const { return Fail(what, pos_); }

  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek(size_t ahead = 0) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }
  void SkipSpaces() {
    while (!AtEnd() && IsSpace(s_[pos_])) ++pos_;
  }

  // Steps until something that cannot continue a path. In a filter, a path ends at a space
  // or an operator; at top level only the end of the text ends it.
  Status ParseSegments(bool in_filter, std::vector<Segment>* out) {
    while (!AtEnd()) {
      char c = s_[pos_];
      if (c == '.') {
        Segment seg;
        seg.pos = pos_;
        ++pos_;
        if (Peek() == '.') {
          seg.deep = true;
          ++pos_;
        }
        if (AtEnd()) return Fail("a path must not end with '.'", seg.pos);
        if (Peek() == '[') {
          RETURN_IF_ERROR(ParseBracket(&seg));  // Jayway reads `$.['a']` as `$['a']`
        } else if (Peek() == '*') {
          ++pos_;
          seg.type = Segment::Type::kWildcard;
        } else {
          RETURN_IF_ERROR(ParseDotName(in_filter, &seg.name));
          seg.type = Segment::Type::kName;
        }
        out->push_back(std::move(seg));
      } else if (c == '[') {
        Segment seg;
        seg.pos = pos_;
        RETURN_IF_ERROR(ParseBracket(&seg));
        out->push_back(std::move(seg));
      } else if (in_filter) {
        break;
      } else {
        return Fail(std::string("unexpected character '") + c + "'");
      }
    }
    return Status::Ok();
  }

  Status ParseDotName(bool in_filter, std::string* name) {
    size_t start = pos_;
    while (!AtEnd()) {
      char c = s_[pos_];
      if (c == '.' || c == '[') break;
      if (in_filter && (IsSpace(c) || c == ')' || c == '=' || c == '!' || c == '<' || c == '>' ||
                        c == '&' || c == '|')) {
        break;
      }
      if (IsSpace(c)) return Fail("a name with spaces must be written in brackets: ['a b']");
      if (c == '(') return Fail("path functions such as length() are not supported");
      if (c == ']' || c == '\'' || c == '"') {
        return Fail(std::string("unexpected character '") + c + "' in a name");
      }
      ++pos_;
    }
    if (pos_ == start) return Fail("empty name");
    name->assign(s_.substr(start, pos_ - start));
    return Status::Ok();
  }

  Status ParseQuoted(std::string* out) {
    size_t start = pos_;
    char quote = s_[pos_++];
    out->clear();
    while (true) {
      if (AtEnd()) return Fail("unterminated string", start);
      char c = s_[pos_++];
      if (c == quote) return Status::Ok();
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (AtEnd()) return Fail("unterminated string", start);
      char e = s_[pos_++];
      switch (e) {
        case '\\':
        case '\'':
        case '"':
        case '/':
          out->push_back(e);
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          RETURN_IF_ERROR(ParseHex4(&cp));
          if (cp >= 0xD800 && cp < 0xDC00 && Peek() == '\\' && Peek(1) == 'u') {
            pos_ += 2;
            uint32_t low = 0;
            RETURN_IF_ERROR(ParseHex4(&low));
            if (low < 0xDC00 || low > 0xDFFF) return Fail("invalid surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            return Fail("invalid surrogate in \\u escape");
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          return Fail(std::string("unknown escape '\\") + e + "'", pos_ - 2);
      }
    }
  }

  Status ParseHex4(uint32_t* cp) {
    if (pos_ + 4 > s_.size()) return Fail("incomplete \\u escape");
    for (int i = 0; i < 4; ++i) {
      char h = s_[pos_++];
      uint32_t d;
      if (h >= '0' && h <= '9')
        d = h - '0';
      else if (h >= 'a' && h <= 'f')
        d = h - 'a' + 10;
      else if (h >= 'A' && h <= 'F')
        d = h - 'A' + 10;
      else
        return Fail("bad hex digit in \\u escape", pos_ - 1);
      *cp = *cp * 16 + d;
    }
    return Status::Ok();
  }

  // An optional integer: true with *value set, false if there is no digit here.
  Result<bool> ParseInt(int64_t* value) {
    size_t start = pos_;
    bool negative = false;
    if (Peek() == '-') {
      negative = true;
      ++pos_;
    }
    if (!IsDigit(Peek())) {
      if (negative) return Fail("expected a digit after '-'");
      return false;
    }
    uint64_t v = 0;
    while (IsDigit(Peek())) {
      uint64_t digit = static_cast<uint64_t>(s_[pos_++] - '0');
      if (v > (static_cast<uint64_t>(INT64_MAX) - digit) / 10) {
        return Fail("index out of range", start);
      }
      v = v * 10 + digit;
    }
    *value = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
    return true;
  }

  Status Expect(char c) {
    SkipSpaces();
    if (Peek() != c) {
      if (AtEnd()) return Fail(std::string("missing '") + c + "'");
      return Fail(std::string("expected '") + c + "', found '" + Peek() + "'");
    }
    ++pos_;
    return Status::Ok();
  }

  Status ParseBracket(Segment* seg) {
    size_t open = pos_;
    ++pos_;  // '['
    SkipSpaces();
    if (AtEnd()) return Fail("unterminated bracket", open);
    char c = Peek();
    if (c == '\'' || c == '"') {
      while (true) {
        std::string name;
        RETURN_IF_ERROR(ParseQuoted(&name));
        seg->names.push_back(std::move(name));
        SkipSpaces();
        if (Peek() == ',') {
          ++pos_;
          SkipSpaces();
          if (Peek() != '\'' && Peek() != '"') return Fail("expected a quoted name after ','");
          continue;
        }
        break;
      }
      if (seg->names.size() == 1) {
        seg->type = Segment::Type::kName;
        seg->name = std::move(seg->names[0]);
        seg->names.clear();
      } else {
        seg->type = Segment::Type::kNames;
      }
    } else if (c == '*') {
      ++pos_;
      seg->type = Segment::Type::kWildcard;
    } else if (c == '?') {
      ++pos_;
      RETURN_IF_ERROR(Expect('('));
      auto expr = std::make_shared<FilterExpr>();
      RETURN_IF_ERROR(ParseOr(expr.get()));
      RETURN_IF_ERROR(Expect(')'));
      seg->type = Segment::Type::kFilter;
      seg->filter = std::move(expr);
    } else {
      int64_t first = 0;
      ASSIGN_OR_RETURN(bool has_first, ParseInt(&first));
      SkipSpaces();
      if (Peek() == ':') {
        ++pos_;
        SkipSpaces();
        int64_t second = 0;
        ASSIGN_OR_RETURN(bool has_second, ParseInt(&second));
        SkipSpaces();
        if (Peek() == ':') return Fail("slice steps ([a:b:c]) are not supported");
        seg->type = Segment::Type::kSlice;
        if (has_first) seg->from = first;
        if (has_second) seg->to = second;
      } else if (!has_first) {
        if (AtEnd()) return Fail("unterminated bracket", open);
        return Fail(std::string("unexpected character '") + Peek() + "' in brackets");
      } else if (Peek() == ',') {
        seg->type = Segment::Type::kIndexes;
        seg->indexes.push_back(first);
        while (Peek() == ',') {
          ++pos_;
          SkipSpaces();
          int64_t next = 0;
          ASSIGN_OR_RETURN(bool has_next, ParseInt(&next));
          if (!has_next) return Fail("expected an index after ','");
          seg->indexes.push_back(next);
          SkipSpaces();
        }
      } else {
        seg->type = Segment::Type::kIndex;
        seg->index = first;
      }
    }
    SkipSpaces();
    if (AtEnd()) return Fail("unterminated bracket", open);
    if (Peek() != ']') return Fail(std::string("expected ']', found '") + Peek() + "'");
    ++pos_;
    return Status::Ok();
  }

  // expr := and ('||' and)* ; and := unary ('&&' unary)* ;
  // unary := '!' unary | '(' expr ')' | operand [cmp operand]
  Status ParseOr(FilterExpr* out) {
    return ParseChain(out, FilterExpr::Op::kOr, '|', &Parser::ParseAnd);
  }
  Status ParseAnd(FilterExpr* out) {
    return ParseChain(out, FilterExpr::Op::kAnd, '&', &Parser::ParseUnary);
  }

  // `operand` ('cc' `operand`)*, grouped to the left, where cc is `c` twice (&& or ||).
  Status ParseChain(FilterExpr* out, FilterExpr::Op op, char c,
                    Status (Parser::*operand)(FilterExpr*)) {
    RETURN_IF_ERROR((this->*operand)(out));
    while (true) {
      SkipSpaces();
      if (!(Peek() == c && Peek(1) == c)) return Status::Ok();
      pos_ += 2;
      auto left = std::make_unique<FilterExpr>(std::move(*out));
      auto right = std::make_unique<FilterExpr>();
      RETURN_IF_ERROR((this->*operand)(right.get()));
      *out = FilterExpr();
      out->op = op;
      out->left = std::move(left);
      out->right = std::move(right);
    }
  }

  Status ParseUnary(FilterExpr* out) {
    SkipSpaces();
    if (Peek() == '!' && Peek(1) != '=') {
      ++pos_;
      out->op = FilterExpr::Op::kNot;
      out->left = std::make_unique<FilterExpr>();
      return ParseUnary(out->left.get());
    }
    if (Peek() == '(') {
      ++pos_;
      RETURN_IF_ERROR(ParseOr(out));
      return Expect(')');
    }
    size_t start = pos_;
    RETURN_IF_ERROR(ParseOperand(&out->a));
    SkipSpaces();
    char c = Peek();
    char d = Peek(1);
    if (c == '=' && d == '=') {
      out->op = FilterExpr::Op::kEq;
    } else if (c == '!' && d == '=') {
      out->op = FilterExpr::Op::kNe;
    } else if (c == '<') {
      out->op = d == '=' ? FilterExpr::Op::kLe : FilterExpr::Op::kLt;
    } else if (c == '>') {
      out->op = d == '=' ? FilterExpr::Op::kGe : FilterExpr::Op::kGt;
    } else if (c == '=' || c == '~' || std::isalpha(static_cast<unsigned char>(c))) {
      return Fail("unsupported filter operator (use == != < <= > >=)");
    } else {
      if (out->a.kind == Operand::Kind::kLiteral) {
        return Fail("a literal alone is not a condition", start);
      }
      out->op = FilterExpr::Op::kExists;
      return Status::Ok();
    }
    pos_ += (c == '=' || c == '!' || d == '=') ? 2 : 1;
    if (Peek() == '=') return Fail("unsupported filter operator");
    return ParseOperand(&out->b);
  }

  Status ParseOperand(Operand* out) {
    SkipSpaces();
    char c = Peek();
    if (c == '@' || c == '$') {
      out->kind = c == '@' ? Operand::Kind::kCurrent : Operand::Kind::kRoot;
      ++pos_;
      if (c == '$' && Peek() == '$') return Fail("'$$' is not allowed inside a filter");
      RETURN_IF_ERROR(ParseSegments(/*in_filter=*/true, &out->segments));
      out->simple = IsSimple(out->segments);
      out->definite = IsDefiniteChain(out->segments);
      return Status::Ok();
    }
    out->kind = Operand::Kind::kLiteral;
    if (c == '\'' || c == '"') {
      std::string s;
      RETURN_IF_ERROR(ParseQuoted(&s));
      out->literal = std::move(s);
      return Status::Ok();
    }
    for (std::string_view word : {"true", "false", "null"}) {
      if (s_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        out->literal = word == "null" ? Value(nullptr) : Value(word == "true");
        return Status::Ok();
      }
    }
    if (c == '-' || IsDigit(c)) {
      size_t start = pos_;
      ++pos_;
      while (!AtEnd() && (IsDigit(Peek()) || Peek() == '.' || Peek() == 'e' || Peek() == 'E' ||
                          Peek() == '+' || Peek() == '-')) {
        ++pos_;
      }
      Value number = Value::parse(s_.substr(start, pos_ - start), nullptr, false);
      if (number.is_discarded() || !number.is_number()) return Fail("bad number", start);
      out->literal = std::move(number);
      return Status::Ok();
    }
    if (AtEnd()) return Fail("unterminated filter");
    return Fail(std::string("unexpected character '") + c + "' in a filter");
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------------------
// Evaluation

// Resolves index `i` (negative: from the end) in an array of `size`; false if out of range.
bool ResolveIndex(int64_t i, size_t size, size_t* out) {
  int64_t n = static_cast<int64_t>(size);
  if (i < 0) i += n;
  if (i < 0 || i >= n) return false;
  *out = static_cast<size_t>(i);
  return true;
}

// Walks a chain of names and indexes. nullptr if a step finds nothing.
const Value* WalkSimple(const std::vector<Segment>& segments, const Value* node) {
  for (const Segment& seg : segments) {
    if (seg.type == Segment::Type::kName) {
      if (!node->is_object()) return nullptr;
      auto it = node->find(seg.name);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else {
      size_t i = 0;
      if (!node->is_array() || !ResolveIndex(seg.index, node->size(), &i)) return nullptr;
      node = &(*node)[i];
    }
  }
  return node;
}

bool TestFilter(const FilterExpr& e, const Value& at, const Value& root);

// Gathers every node a path selects. Merged objects (name unions) live in `made_`.
class Collector {
 public:
  explicit Collector(const Value& root) : root_(root) {}

  void Run(const std::vector<Segment>& segs, size_t i, const Value& node) {
    if (i == segs.size()) {
      out_.push_back(&node);
      return;
    }
    if (segs[i].deep) {
      Deep(segs, i, node);
    } else {
      Apply(segs, i, node, /*deep=*/false);
    }
  }

  std::vector<const Value*>& out() { return out_; }

 private:
  void Deep(const std::vector<Segment>& segs, size_t i, const Value& node) {
    Apply(segs, i, node, /*deep=*/true);
    if (node.is_object() || node.is_array()) {
      for (const Value& child : node) Deep(segs, i, child);
    }
  }

  void Apply(const std::vector<Segment>& segs, size_t i, const Value& node, bool deep) {
    const Segment& seg = segs[i];
    switch (seg.type) {
      case Segment::Type::kName:
        if (node.is_object()) {
          auto it = node.find(seg.name);
          if (it != node.end()) Run(segs, i + 1, *it);
        }
        break;
      case Segment::Type::kIndex: {
        size_t k = 0;
        if (node.is_array() && ResolveIndex(seg.index, node.size(), &k)) {
          Run(segs, i + 1, node[k]);
        }
        break;
      }
      case Segment::Type::kWildcard:
        if (node.is_object() || node.is_array()) {
          for (const Value& child : node) Run(segs, i + 1, child);
        }
        break;
      case Segment::Type::kNames:
        if (!node.is_object()) break;
        if (!deep && i + 1 == segs.size()) {
          Value merged = Value::object();
          for (const std::string& name : seg.names) {
            auto it = node.find(name);
            if (it != node.end()) merged[name] = *it;
          }
          made_.push_back(std::make_unique<Value>(std::move(merged)));
          out_.push_back(made_.back().get());
        } else {
          for (const std::string& name : seg.names) {
            auto it = node.find(name);
            if (it != node.end()) Run(segs, i + 1, *it);
          }
        }
        break;
      case Segment::Type::kIndexes:
        if (!node.is_array()) break;
        for (int64_t index : seg.indexes) {
          size_t k = 0;
          if (ResolveIndex(index, node.size(), &k)) Run(segs, i + 1, node[k]);
        }
        break;
      case Segment::Type::kSlice: {
        if (!node.is_array()) break;
        int64_t n = static_cast<int64_t>(node.size());
        int64_t from = seg.from.value_or(0);
        int64_t to = seg.to.value_or(n);
        if (from < 0) from = std::max<int64_t>(0, n + from);
        if (to < 0) to = std::max<int64_t>(0, n + to);
        to = std::min(to, n);
        for (int64_t k = from; k < to; ++k) Run(segs, i + 1, node[static_cast<size_t>(k)]);
        break;
      }
      case Segment::Type::kFilter:
        // Jayway: on an array the filter picks elements; on an object it tests the object
        // itself. A deep scan tests every object it meets (so none is reported twice).
        if (node.is_array() && !deep) {
          for (const Value& child : node) {
            if (TestFilter(*seg.filter, child, root_)) Run(segs, i + 1, child);
          }
        } else if (node.is_object()) {
          if (TestFilter(*seg.filter, node, root_)) Run(segs, i + 1, node);
        }
        break;
    }
  }

  const Value& root_;
  std::vector<const Value*> out_;
  std::vector<std::unique_ptr<Value>> made_;
};

// An operand's value: a pointer into the document, or a value built for it.
struct Resolved {
  const Value* ptr = nullptr;
  Value owned;
  bool present = false;
  const Value& get() const { return ptr != nullptr ? *ptr : owned; }
};

Resolved Resolve(const Operand& o, const Value& at, const Value& root) {
  Resolved r;
  if (o.kind == Operand::Kind::kLiteral) {
    r.ptr = &o.literal;
    r.present = true;
    return r;
  }
  const Value& start = o.kind == Operand::Kind::kCurrent ? at : root;
  if (o.simple) {
    r.ptr = WalkSimple(o.segments, &start);
    r.present = r.ptr != nullptr;
    return r;
  }
  Collector c(root);
  c.Run(o.segments, 0, start);
  if (o.definite) {
    if (!c.out().empty()) {
      r.owned = *c.out()[0];
      r.present = true;
    }
    return r;
  }
  r.owned = Value::array();
  for (const Value* v : c.out()) r.owned.push_back(*v);
  r.present = !r.owned.empty();
  return r;
}

bool TestFilter(const FilterExpr& e, const Value& at, const Value& root) {
  using Op = FilterExpr::Op;
  switch (e.op) {
    case Op::kOr:
      return TestFilter(*e.left, at, root) || TestFilter(*e.right, at, root);
    case Op::kAnd:
      return TestFilter(*e.left, at, root) && TestFilter(*e.right, at, root);
    case Op::kNot:
      return !TestFilter(*e.left, at, root);
    case Op::kExists:
      return Resolve(e.a, at, root).present;
    default:
      break;
  }
  Resolved a = Resolve(e.a, at, root);
  Resolved b = Resolve(e.b, at, root);
  if (e.op == Op::kEq || e.op == Op::kNe) {
    bool eq = a.present && b.present && JsonEquals(a.get(), b.get());
    return e.op == Op::kEq ? eq : !eq;
  }
  if (!a.present || !b.present) return false;
  const Value& x = a.get();
  const Value& y = b.get();
  int cmp = 0;
  if (x.is_number() && y.is_number()) {
    double dx = x.get<double>();
    double dy = y.get<double>();
    cmp = dx < dy ? -1 : (dx > dy ? 1 : 0);
  } else if (x.is_string() && y.is_string()) {
    int c = x.get_ref<const std::string&>().compare(y.get_ref<const std::string&>());
    cmp = c < 0 ? -1 : (c > 0 ? 1 : 0);
  } else {
    return false;
  }
  switch (e.op) {
    case Op::kLt:
      return cmp < 0;
    case Op::kLe:
      return cmp <= 0;
    case Op::kGt:
      return cmp > 0;
    case Op::kGe:
      return cmp >= 0;
    default:
      return false;
  }
}

}  // namespace

struct Path::Compiled {
  std::string text;
  bool context = false;
  bool definite = true;
  bool simple = true;
  std::vector<Segment> segments;
};

Result<Path> Path::Parse(std::string_view text, Kind kind) {
  auto compiled = std::make_shared<Compiled>();
  compiled->text = std::string(text);
  RETURN_IF_ERROR(Parser(text).ParsePath(&compiled->context, &compiled->segments));
  compiled->simple = IsSimple(compiled->segments);
  compiled->definite = IsDefiniteChain(compiled->segments);
  if (kind == Kind::kReferencePath && !compiled->simple) {
    for (const Segment& seg : compiled->segments) {
      if (seg.deep) {
        return InvalidArgument("a Reference Path may not contain '..' (deep scan) at character " +
                               std::to_string(seg.pos + 1) + " of '" + compiled->text + "'");
      }
      if (seg.type != Segment::Type::kName && seg.type != Segment::Type::kIndex) {
        return InvalidArgument(
            "a Reference Path may select only one node: no wildcard, union, slice or filter "
            "(character " +
            std::to_string(seg.pos + 1) + " of '" + compiled->text + "')");
      }
    }
  }
  Path path;
  path.compiled_ = std::move(compiled);
  return path;
}

Path::Path() {
  // Default paths are common (every absent InputPath/OutputPath): share one compiled "$".
  static const std::shared_ptr<const Compiled> kRoot = [] {
    auto c = std::make_shared<Compiled>();
    c->text = "$";
    return c;
  }();
  compiled_ = kRoot;
}
Path::~Path() = default;
Path::Path(const Path&) = default;
Path& Path::operator=(const Path&) = default;
Path::Path(Path&&) noexcept = default;
Path& Path::operator=(Path&&) noexcept = default;

const std::string& Path::text() const { return compiled_->text; }
bool Path::IsContext() const { return compiled_->context; }
bool Path::IsDefinite() const { return compiled_->definite; }
bool Path::IsRoot() const { return compiled_->segments.empty(); }

const Value* Path::Select(const Value& input, const Value& context) const {
  if (!compiled_->simple) return nullptr;
  return WalkSimple(compiled_->segments, compiled_->context ? &context : &input);
}

EvalResult<Value> Path::Evaluate(const Value& input, const Value& context) const {
  const Value& doc = compiled_->context ? context : input;
  if (compiled_->simple) {
    if (const Value* v = WalkSimple(compiled_->segments, &doc)) return *v;
    return ErrorInfo{std::string(errors::kRuntime), PathNotFoundCause(text(), "", doc)};
  }
  Collector c(doc);
  c.Run(compiled_->segments, 0, doc);
  if (compiled_->definite) {
    if (c.out().empty()) {
      return ErrorInfo{std::string(errors::kRuntime), PathNotFoundCause(text(), "", doc)};
    }
    return *c.out()[0];
  }
  Value result = Value::array();
  result.get_ref<Value::array_t&>().reserve(c.out().size());
  for (const Value* v : c.out()) result.push_back(*v);
  return result;
}

bool Path::Exists(const Value& input, const Value& context) const {
  const Value& doc = compiled_->context ? context : input;
  if (compiled_->simple) return WalkSimple(compiled_->segments, &doc) != nullptr;
  Collector c(doc);
  c.Run(compiled_->segments, 0, doc);
  return !c.out().empty();
}

std::string PathNotFoundCause(std::string_view path, std::string_view field, const Value& input) {
  std::string cause = "The JSONPath '";
  cause += path;
  cause += "'";
  if (!field.empty()) {
    cause += " specified for the field '";
    cause += field;
    cause += "'";
  }
  cause += " could not be found in the input '";
  cause += JsonForMessage(input);
  cause += "'";
  return cause;
}

EvalResult<Value> ApplyResultPath(const Path& path, Value raw_input, Value result) {
  const Path::Compiled& c = *path.compiled_;
  auto fail = [&](const Value& input) {
    return ErrorInfo{
        std::string(errors::kResultPathMatchFailure),
        "Unable to apply ReferencePath " + c.text + " to input '" + JsonForMessage(input) + "'"};
  };
  if (c.context || !c.simple) {
    return ErrorInfo{std::string(errors::kResultPathMatchFailure),
                     "ResultPath " + c.text + " is not a Reference Path into the state input"};
  }
  if (c.segments.empty()) return result;
  Value* node = &raw_input;
  for (size_t i = 0; i < c.segments.size(); ++i) {
    const Segment& seg = c.segments[i];
    bool last = i + 1 == c.segments.size();
    if (seg.type == Segment::Type::kName) {
      if (!node->is_object()) return fail(raw_input);
      auto it = node->find(seg.name);
      if (it == node->end()) {
        if (!last && c.segments[i + 1].type != Segment::Type::kName) return fail(raw_input);
        // Missing members are appended in place: no search, and document order is kept.
        auto& members = node->get_ref<Value::object_t&>();
        members.emplace_back(seg.name, last ? std::move(result) : Value::object());
        if (last) return raw_input;
        node = &members.back().second;
        continue;
      }
      if (last) {
        *it = std::move(result);
        return raw_input;
      }
      node = &*it;
    } else {
      size_t k = 0;
      if (!node->is_array() || !ResolveIndex(seg.index, node->size(), &k)) {
        return fail(raw_input);
      }
      if (last) {
        (*node)[k] = std::move(result);
        return raw_input;
      }
      node = &(*node)[k];
    }
  }
  return raw_input;
}

}  // namespace sluice::asl
