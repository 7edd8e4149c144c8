#pragma once

// A plain, exception-free copy of a YAML document with the position of
// every node. yaml_adapter.cc is the only file that touches yaml-cpp (which
// throws); everything else in the policy layer reads this tree.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jailwarden/policy/policy.h"

namespace jailwarden::policy::internal {

// A place in the source, 1-based as editors show it. line 0 = unknown.
using Position = SourcePosition;

struct YamlNode {
  enum class Kind { kNull, kScalar, kSequence, kMap };
  Kind kind = Kind::kNull;
  Position position;
  std::string scalar;   // kScalar only
  bool quoted = false;  // kScalar written with quotes or an explicit tag
  std::vector<YamlNode> items;                         // kSequence
  std::vector<std::pair<YamlNode, YamlNode>> entries;  // kMap, in file order

  bool IsNull() const { return kind == Kind::kNull; }
  bool IsScalar() const { return kind == Kind::kScalar; }
  bool IsSequence() const { return kind == Kind::kSequence; }
  bool IsMap() const { return kind == Kind::kMap; }
  // The first value whose key is the scalar `key`, or nullptr.
  const YamlNode* Find(std::string_view key) const;
};

// "a scalar", "a list", "a map", "nothing" (for messages).
std::string_view KindName(YamlNode::Kind kind);

struct ParseProblem {
  Position position;
  std::string message;
};

// Parses `text` as one YAML document. An empty document gives a kNull
// root. On failure returns false and fills `problem` (yaml-cpp's syntax
// message at its mark, a second document, nesting deeper than 64 levels or
// more than 1,000,000 nodes after alias expansion). Map values that are
// empty take their key's position (yaml-cpp puts them on the next token).
// Thread-safe.
bool ParseYaml(std::string_view text, YamlNode* root, ParseProblem* problem);

// `root` as block YAML that ParseYaml reads back to the same tree
// (positions aside): plain scalars as written, quoted or tagged ones
// double-quoted. "" for a null root. Thread-safe.
std::string EmitYaml(const YamlNode& root);

}  // namespace jailwarden::policy::internal
