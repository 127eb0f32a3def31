#include "asl/payload.h"

#include <string_view>
#include <unordered_set>
#include <utility>

namespace sluice::asl {

namespace {

struct TemplateNode {
  enum class Kind { kLiteral, kObject, kArray, kPath, kIntrinsic };
  Kind kind = Kind::kLiteral;
  Value literal;                                              // kLiteral: copied as is
  std::vector<std::pair<std::string, TemplateNode>> members;  // kObject, keys without ".$"
  std::vector<TemplateNode> elements;                         // kArray
  Path path;                                                  // kPath
  Intrinsic intrinsic;                                        // kIntrinsic
  std::string field;                                          // kPath: the key as written ("x.$")
};

using Node = TemplateNode;

bool EndsWithDollarKey(std::string_view s) {
  return s.size() >= 2 && s.substr(s.size() - 2) == ".$";
}

bool LooksLikePath(std::string_view s) {
  return s == "$" || s == "$$" || s.starts_with("$.") || s.starts_with("$[") ||
         s.starts_with("$$.") || s.starts_with("$$[");
}

class Compiler {
 public:
  explicit Compiler(std::vector<Problem>* problems) : problems_(problems) {}

  bool ok() const { return ok_; }

  // Compiles `v`; `in_array` tells whether `v` is an array element (for the warnings).
  Node Compile(const Value& v, const std::string& location, bool in_array) {
    Node node;
    if (v.is_object()) {
      node.kind = Node::Kind::kObject;
      std::unordered_set<std::string> seen;
      for (const auto& [key, value] : v.items()) {
        std::string member_location = location.empty() ? key : location + "." + key;
        std::string name = key;
        Node child;
        if (EndsWithDollarKey(key)) {
          name.resize(name.size() - 2);
          child = CompileDynamic(key, value, member_location);
        } else {
          child = Compile(value, member_location, /*in_array=*/false);
        }
        if (!seen.insert(name).second) {
          Error(member_location, "duplicate key '" + name + "' (after removing '.$')");
        }
        node.members.emplace_back(std::move(name), std::move(child));
      }
    } else if (v.is_array()) {
      node.kind = Node::Kind::kArray;
      for (size_t i = 0; i < v.size(); ++i) {
        node.elements.push_back(
            Compile(v[i], location + "[" + std::to_string(i) + "]", /*in_array=*/true));
      }
    } else {
      if (v.is_string()) WarnLiteral(v.get_ref<const std::string&>(), location, in_array);
      node.literal = v;
      return node;
    }
    // A subtree without anything to evaluate is kept as one value, copied in one go.
    bool constant = true;
    for (const auto& [name, child] : node.members) constant &= child.kind == Node::Kind::kLiteral;
    for (const Node& child : node.elements) constant &= child.kind == Node::Kind::kLiteral;
    if (constant) {
      Node literal;
      literal.literal = Rebuild(node);
      return literal;
    }
    return node;
  }

 private:
  static Value Rebuild(const Node& node) {
    if (node.kind == Node::Kind::kLiteral) return node.literal;
    if (node.kind == Node::Kind::kArray) {
      Value out = Value::array();
      for (const Node& child : node.elements) out.push_back(child.literal);
      return out;
    }
    Value out = Value::object();
    auto& members = out.get_ref<Value::object_t&>();
    for (const auto& [name, child] : node.members) members.emplace_back(name, child.literal);
    return out;
  }

  Node CompileDynamic(const std::string& key, const Value& value, const std::string& location) {
    Node node;
    if (!value.is_string()) {
      Error(location,
            "the value of a key ending in '.$' must be a string (a path or an intrinsic "
            "function)");
      return node;
    }
    const std::string& text = value.get_ref<const std::string&>();
    if (!text.empty() && text[0] == '$') {
      auto path = Path::Parse(text);
      if (!path.ok()) {
        Error(location, path.status().message());
        return node;
      }
      node.kind = Node::Kind::kPath;
      node.path = std::move(path).value();
      node.field = key;
      return node;
    }
    if (Intrinsic::LooksLikeCall(text)) {
      auto call = Intrinsic::Parse(text);
      if (!call.ok()) {
        Error(location, call.status().message());
        return node;
      }
      node.kind = Node::Kind::kIntrinsic;
      node.intrinsic = std::move(call).value();
      return node;
    }
    Error(location, "'" + text +
                        "' is neither a path ($...) nor an intrinsic function "
                        "(States.Name(...))");
    return node;
  }

  void WarnLiteral(const std::string& s, const std::string& location, bool in_array) {
    if (in_array && EndsWithDollarKey(s)) {
      Warn(location, "\"" + s +
                         "\" is a plain string in an array: '.$' is resolved only on object "
                         "keys, so it is passed literally (as AWS does). To build a list from "
                         "paths, use \"Key.$\": \"States.Array(...)\"");
    } else if (LooksLikePath(s) || Intrinsic::LooksLikeCall(s)) {
      Warn(location, "\"" + s +
                         "\" looks like a path or an intrinsic function but is passed "
                         "literally: only values of keys ending in '.$' are evaluated");
    }
  }

  void Error(const std::string& location, std::string message) {
    ok_ = false;
    if (problems_ != nullptr) problems_->push_back(Problem{location, std::move(message), false});
  }
  void Warn(const std::string& location, std::string message) {
    if (problems_ != nullptr) problems_->push_back(Problem{location, std::move(message), true});
  }

  std::vector<Problem>* problems_;
  bool ok_ = true;
};

EvalResult<Value> ApplyNode(const Node& node, const Value& input, const Value& context,
                            Random& random) {
  switch (node.kind) {
    case Node::Kind::kLiteral:
      return node.literal;
    case Node::Kind::kPath: {
      if (const Value* v = node.path.Select(input, context)) return *v;
      EvalResult<Value> r = node.path.Evaluate(input, context);
      if (!r.ok() && r.error().error == errors::kRuntime) {
        const Value& doc = node.path.IsContext() ? context : input;
        return ErrorInfo{std::string(errors::kRuntime),
                         PathNotFoundCause(node.path.text(), node.field, doc)};
      }
      return r;
    }
    case Node::Kind::kIntrinsic:
      return node.intrinsic.Evaluate(input, context, random);
    case Node::Kind::kObject: {
      Value out = Value::object();
      auto& members = out.get_ref<Value::object_t&>();
      members.reserve(node.members.size());
      for (const auto& [name, child] : node.members) {
        EvalResult<Value> r = ApplyNode(child, input, context, random);
        if (!r.ok()) return r;
        // Keys are unique (checked at compile time): append without a search.
        members.emplace_back(name, std::move(r).value());
      }
      return out;
    }
    case Node::Kind::kArray: {
      Value out = Value::array();
      auto& elements = out.get_ref<Value::array_t&>();
      elements.reserve(node.elements.size());
      for (const Node& child : node.elements) {
        EvalResult<Value> r = ApplyNode(child, input, context, random);
        if (!r.ok()) return r;
        elements.push_back(std::move(r).value());
      }
      return out;
    }
  }
  return Value();
}

}  // namespace

struct PayloadTemplate::Node {
  TemplateNode root;
};

bool PayloadTemplate::Compile(const Value& tmpl, const std::string& location, PayloadTemplate* out,
                              std::vector<Problem>* problems) {
  Compiler compiler(problems);
  auto root = std::make_shared<Node>(Node{compiler.Compile(tmpl, location, /*in_array=*/false)});
  if (!compiler.ok()) return false;
  out->root_ = std::move(root);
  return true;
}

PayloadTemplate::PayloadTemplate() = default;
PayloadTemplate::~PayloadTemplate() = default;
PayloadTemplate::PayloadTemplate(const PayloadTemplate&) = default;
PayloadTemplate& PayloadTemplate::operator=(const PayloadTemplate&) = default;
PayloadTemplate::PayloadTemplate(PayloadTemplate&&) noexcept = default;
PayloadTemplate& PayloadTemplate::operator=(PayloadTemplate&&) noexcept = default;

EvalResult<Value> PayloadTemplate::Apply(const Value& input, const Value& context,
                                         Random& random) const {
  if (!root_) return Value::object();
  return ApplyNode(root_->root, input, context, random);
}

}  // namespace sluice::asl
