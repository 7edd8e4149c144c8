// SetJailKeysInText (policy.h): one jail's keys changed in a policy text,
// and the emitter that writes the changed tree back as YAML.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/policy.h"
#include "policy/schema.h"
#include "policy/yaml_tree.h"

namespace jailwarden::policy {
namespace {

using internal::YamlNode;

// A scalar as YAML reads it back to the same YamlNode: a plain scalar as
// it was (it parsed as plain, so it does again), a quoted or tagged one
// double-quoted with escapes.
void EmitScalar(const YamlNode& n, std::string& out) {
  if (!n.quoted && !n.scalar.empty()) {
    out += n.scalar;
    return;
  }
  out += '"';
  for (char c : n.scalar) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out += kHex[u >> 4];
          out += kHex[u & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void EmitNode(const YamlNode& n, int indent, std::string& out);

// The part after "key:" or "-": inline for scalars, null and empty
// collections, else a newline and the block one level deeper.
void EmitValue(const YamlNode& n, int indent, std::string& out) {
  switch (n.kind) {
    case YamlNode::Kind::kNull:
      out += " ~\n";
      return;
    case YamlNode::Kind::kScalar:
      out += ' ';
      EmitScalar(n, out);
      out += '\n';
      return;
    case YamlNode::Kind::kSequence:
      if (n.items.empty()) {
        out += " []\n";
        return;
      }
      break;
    case YamlNode::Kind::kMap:
      if (n.entries.empty()) {
        out += " {}\n";
        return;
      }
      break;
  }
  out += '\n';
  EmitNode(n, indent + 2, out);
}

void EmitNode(const YamlNode& n, int indent, std::string& out) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  switch (n.kind) {
    case YamlNode::Kind::kNull:
      out += pad + "~\n";
      return;
    case YamlNode::Kind::kScalar:
      out += pad;
      EmitScalar(n, out);
      out += '\n';
      return;
    case YamlNode::Kind::kSequence:
      for (const YamlNode& item : n.items) {
        out += pad + "-";
        EmitValue(item, indent, out);
      }
      return;
    case YamlNode::Kind::kMap:
      for (const auto& [k, v] : n.entries) {
        out += pad;
        // A key that is not a scalar never reaches here: the loader
        // refused the policy it came from. It is written as "".
        EmitScalar(k.IsScalar() ? k : YamlNode{}, out);
        out += ':';
        EmitValue(v, indent, out);
      }
      return;
  }
}

absl::Status ParseProblemStatus(std::string_view label, const internal::ParseProblem& p) {
  return absl::InvalidArgumentError(
      ToAbsl(StrCat(label, ":", p.position.line, ":", p.position.column, ": ", p.message)));
}

}  // namespace

namespace internal {
std::string EmitYaml(const YamlNode& root) {
  std::string out;
  if (!root.IsNull()) EmitNode(root, 0, out);
  return out;
}
}  // namespace internal

absl::StatusOr<std::string> SetJailKeysInText(std::string_view text, std::string_view filename,
                                              std::string_view jail,
                                              const std::vector<JailKeyValue>& keys) {
  if (keys.empty()) return absl::InvalidArgumentError("no key=value to set");
  const std::vector<std::string_view> allowed = internal::JailKeys();
  for (const JailKeyValue& kv : keys) {
    bool known = false;
    for (std::string_view k : allowed) known = known || k == kv.key;
    if (known) continue;
    std::string message = StrCat("key ", internal::Quote(kv.key), ": unknown jail key");
    if (const std::string s = internal::Suggest(kv.key, allowed); !s.empty()) {
      StrAppend(&message, s.front() == '(' ? "; the name is " : "; did you mean ",
                s.front() == '(' ? s : internal::Quote(s), s.front() == '(' ? "" : "?");
    } else {
      StrAppend(&message, "; a jail(8) parameter listed in docs/policy.md or one of: ",
                Join(std::vector<std::string_view>(std::begin(internal::kCoreJailKeys),
                                                   std::end(internal::kCoreJailKeys)),
                     ", "));
    }
    return absl::InvalidArgumentError(ToAbsl(message));
  }
  YamlNode root;
  internal::ParseProblem problem;
  if (!internal::ParseYaml(text, &root, &problem)) return ParseProblemStatus(filename, problem);
  YamlNode* jails = nullptr;
  for (auto& [k, v] : root.entries) {
    if (k.IsScalar() && k.scalar == "jails" && v.IsMap()) jails = &v;
  }
  YamlNode* mine = nullptr;
  if (jails != nullptr) {
    for (auto& [k, v] : jails->entries) {
      if (k.IsScalar() && k.scalar == jail) mine = &v;
    }
  }
  if (mine == nullptr || !mine->IsMap()) {
    return absl::NotFoundError(ToAbsl(StrCat(
        "the policy (", filename, ") defines no jail ", internal::Quote(jail),
        "; a jail created through the API is changed by destroy and create")));
  }
  for (const JailKeyValue& kv : keys) {
    auto& entries = mine->entries;
    std::size_t at = entries.size();
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (entries[i].first.IsScalar() && entries[i].first.scalar == kv.key) at = i;
    }
    if (kv.value.empty()) {  // key= : back to the template's or the default
      if (at < entries.size()) entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(at));
      continue;
    }
    YamlNode value;
    if (!internal::ParseYaml(kv.value, &value, &problem)) {
      return absl::InvalidArgumentError(ToAbsl(StrCat(
          "key ", internal::Quote(kv.key), ": value ", internal::Quote(kv.value),
          " is not YAML: ", problem.message)));
    }
    if (at == entries.size()) {
      YamlNode key;
      key.kind = YamlNode::Kind::kScalar;
      key.scalar = kv.key;
      entries.emplace_back(std::move(key), std::move(value));
    } else {
      entries[at].second = std::move(value);
    }
  }
  return internal::EmitYaml(root);
}

}  // namespace jailwarden::policy
