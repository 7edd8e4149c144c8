// SetJailKeysInText (policy.h): one jail's keys changed in a policy text,
// edited in place line by line (comments and the layout of every line it
// does not change kept), and the emitter that writes a changed tree back
// as YAML where the text cannot be edited in place.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/policy.h"
#include "policy/schema.h"
#include "policy/yaml_tree.h"

namespace jailwarden::policy {
namespace {

using internal::Position;
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

// The keys the text edit touches: the jail's `keys` applied to the tree.
// NotFound when the policy's jails: defines no `jail` map.
absl::Status EditTree(YamlNode& root, std::string_view filename, std::string_view jail,
                      const std::vector<JailKeyValue>& keys, const std::vector<YamlNode>& values);

absl::Status ParseProblemStatus(std::string_view label, const internal::ParseProblem& p) {
  return absl::InvalidArgumentError(
      ToAbsl(StrCat(label, ":", p.position.line, ":", p.position.column, ": ", p.message)));
}

// ---- the minimal text edit ----

struct Lines {
  std::vector<std::string> v;
  bool final_newline = false;
};

Lines SplitLines(std::string_view text) {
  Lines out;
  out.final_newline = !text.empty() && text.back() == '\n';
  if (out.final_newline) text.remove_suffix(1);
  if (text.empty() && !out.final_newline) return out;
  std::size_t at = 0;
  while (true) {
    const std::size_t nl = text.find('\n', at);
    out.v.emplace_back(text.substr(at, nl == std::string_view::npos ? nl : nl - at));
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  return out;
}

std::string JoinLines(const Lines& lines) {
  std::string out = Join(lines.v, "\n");
  if (lines.final_newline) out += '\n';
  return out;
}

std::size_t IndentOf(std::string_view line) {
  const std::size_t i = line.find_first_not_of(' ');
  return i == std::string_view::npos ? line.size() : i;
}

// Blank, or a comment whose '#' is at most at column `max_indent` (0-based).
bool BlankOrComment(std::string_view line, std::size_t max_indent) {
  const std::size_t i = line.find_first_not_of(" \t\r");
  if (i == std::string_view::npos) return true;
  return line[i] == '#' && i <= max_indent;
}

// `map` (whose key sits on line `owner_line`, 1-based) is a block map: each
// key first on its own line, all at one column, after the owner's line.
// Returns that column (0-based) or npos.
std::size_t BlockMapIndent(const YamlNode& map, int owner_line, const Lines& lines) {
  if (!map.IsMap() || map.entries.empty()) return std::string::npos;
  const int col = map.entries.front().first.position.column;
  int last_line = owner_line;
  for (const auto& [k, v] : map.entries) {
    const Position p = k.position;
    if (!k.IsScalar() || p.column != col || p.line <= last_line || p.column < 1 ||
        static_cast<std::size_t>(p.line) > lines.v.size()) {
      return std::string::npos;
    }
    if (IndentOf(lines.v[static_cast<std::size_t>(p.line - 1)]) !=
        static_cast<std::size_t>(col - 1)) {
      return std::string::npos;
    }
    last_line = p.line;
  }
  return static_cast<std::size_t>(col - 1);
}

// The lines [begin, end) (0-based) of entry `i` of block map `map` whose
// keys are at `indent`: from its key to its last line of content; the
// blank lines and the comments at the key's indentation or less that
// follow it belong to what comes next.
std::pair<std::size_t, std::size_t> EntryLines(const YamlNode& map, std::size_t i,
                                               std::size_t indent, const Lines& lines) {
  const std::size_t begin = static_cast<std::size_t>(map.entries[i].first.position.line - 1);
  std::size_t limit = lines.v.size();
  if (i + 1 < map.entries.size()) {
    limit = static_cast<std::size_t>(map.entries[i + 1].first.position.line - 1);
  } else {
    for (std::size_t l = begin + 1; l < lines.v.size(); ++l) {
      if (!BlankOrComment(lines.v[l], lines.v[l].size()) && IndentOf(lines.v[l]) < indent) {
        limit = l;
        break;
      }
    }
  }
  std::size_t end = limit;
  while (end > begin + 1 && BlankOrComment(lines.v[end - 1], indent)) --end;
  return {begin, end};
}

// The comment (with the blanks before it) that ends a one-line `key: value`
// whose value starts at column `col` (0-based), or "".
std::string TrailingComment(std::string_view line, std::size_t col) {
  std::size_t i = col;
  if (i < line.size() && (line[i] == '"' || line[i] == '\'')) {
    const char q = line[i++];
    while (i < line.size()) {
      if (q == '"' && line[i] == '\\') {
        i += 2;
        continue;
      }
      if (line[i] == q) {
        if (q == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
          i += 2;
          continue;
        }
        ++i;
        break;
      }
      ++i;
    }
  }
  for (; i < line.size(); ++i) {
    if (line[i] == '#' && i > 0 && (line[i - 1] == ' ' || line[i - 1] == '\t')) {
      std::size_t s = i;
      while (s > 0 && (line[s - 1] == ' ' || line[s - 1] == '\t')) --s;
      return std::string(line.substr(s));
    }
  }
  return "";
}

// "KEY: VALUE\n" lines at `indent`, VALUE as EmitValue writes it.
std::string EntryText(const YamlNode& key, const YamlNode& value, std::size_t indent) {
  std::string out(indent, ' ');
  EmitScalar(key, out);
  out += ':';
  EmitValue(value, static_cast<int>(indent), out);
  return out;
}

// Replaces lines [begin, end) with `text` (whole lines ending in '\n').
void SpliceLines(Lines& lines, std::size_t begin, std::size_t end, std::string_view text) {
  Lines add = SplitLines(text);
  lines.v.erase(lines.v.begin() + static_cast<std::ptrdiff_t>(begin),
                lines.v.begin() + static_cast<std::ptrdiff_t>(end));
  lines.v.insert(lines.v.begin() + static_cast<std::ptrdiff_t>(begin), add.v.begin(),
                 add.v.end());
  if (begin >= lines.v.size() - add.v.size() && !add.v.empty()) lines.final_newline = true;
}

bool SameTree(const YamlNode& a, const YamlNode& b) {
  if (a.kind != b.kind || a.scalar != b.scalar || a.quoted != b.quoted ||
      a.items.size() != b.items.size() || a.entries.size() != b.entries.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.items.size(); ++i) {
    if (!SameTree(a.items[i], b.items[i])) return false;
  }
  for (std::size_t i = 0; i < a.entries.size(); ++i) {
    if (!SameTree(a.entries[i].first, b.entries[i].first) ||
        !SameTree(a.entries[i].second, b.entries[i].second)) {
      return false;
    }
  }
  return true;
}

// The jails: map's entry for `jail` in `root`: {jails key, jails map, index}.
struct JailAt {
  const YamlNode* jails_key = nullptr;
  const YamlNode* jails = nullptr;
  std::size_t index = 0;
};
std::optional<JailAt> FindJail(const YamlNode& root, std::string_view jail) {
  JailAt at;
  for (const auto& [k, v] : root.entries) {
    if (k.IsScalar() && k.scalar == "jails" && v.IsMap()) {
      at.jails_key = &k;
      at.jails = &v;
    }
  }
  if (at.jails == nullptr) return std::nullopt;
  bool found = false;
  for (std::size_t i = 0; i < at.jails->entries.size(); ++i) {
    const auto& [k, v] = at.jails->entries[i];
    if (k.IsScalar() && k.scalar == jail) {
      at.index = i;
      found = v.IsMap();
    }
  }
  if (!found) return std::nullopt;
  return at;
}

// One key of `jail` set (or removed) in `text` by changing only its lines.
// nullopt when the text's layout does not allow it (a flow-style map, keys
// sharing a line): the caller falls back.
std::optional<std::string> EditOneKey(std::string_view text, std::string_view jail,
                                      const JailKeyValue& kv, const YamlNode& value) {
  YamlNode root;
  internal::ParseProblem problem;
  if (!internal::ParseYaml(text, &root, &problem)) return std::nullopt;
  Lines lines = SplitLines(text);
  const std::optional<JailAt> at = FindJail(root, jail);
  if (!at) return std::nullopt;
  const auto& [jail_key, map] = at->jails->entries[at->index];
  const std::size_t indent = BlockMapIndent(map, jail_key.position.line, lines);
  if (indent == std::string::npos) return std::nullopt;
  std::size_t found = map.entries.size();
  for (std::size_t i = 0; i < map.entries.size(); ++i) {
    if (map.entries[i].first.scalar == kv.key) found = i;
  }
  if (found == map.entries.size()) {
    if (kv.value.empty()) return std::string(text);
    YamlNode key;
    key.kind = YamlNode::Kind::kScalar;
    key.scalar = kv.key;
    const std::size_t after = EntryLines(map, map.entries.size() - 1, indent, lines).second;
    SpliceLines(lines, after, after, EntryText(key, value, indent));
    return JoinLines(lines);
  }
  const auto& [old_key, old_value] = map.entries[found];
  const auto [begin, end] = EntryLines(map, found, indent, lines);
  if (kv.value.empty()) {
    SpliceLines(lines, begin, end, "");
    return JoinLines(lines);
  }
  std::string replacement = EntryText(old_key, value, indent);
  if (end == begin + 1 && old_value.IsScalar() && value.IsScalar() &&
      old_value.position.line == old_key.position.line && old_value.position.column > 0) {
    const std::string comment =
        TrailingComment(lines.v[begin], static_cast<std::size_t>(old_value.position.column - 1));
    if (!comment.empty()) replacement.insert(replacement.size() - 1, comment);
  }
  SpliceLines(lines, begin, end, replacement);
  return JoinLines(lines);
}

// The text with the jail's keys set, every other line as it was; when a
// jail's map is not written in block style, its whole entry is rewritten
// from `edited` (the jails: map must be block style); nullopt when neither
// gives the tree `edited`.
std::optional<std::string> EditText(std::string_view text, std::string_view jail,
                                    const std::vector<JailKeyValue>& keys,
                                    const std::vector<YamlNode>& values, const YamlNode& edited) {
  std::optional<std::string> out = std::string(text);
  for (std::size_t i = 0; i < keys.size() && out; ++i) {
    out = EditOneKey(*out, jail, keys[i], values[i]);
  }
  YamlNode reread;
  internal::ParseProblem problem;
  if (out && internal::ParseYaml(*out, &reread, &problem) && SameTree(reread, edited)) {
    return out;
  }
  // The jail's entry as a whole, in the jails: map's layout.
  YamlNode root;
  if (!internal::ParseYaml(text, &root, &problem)) return std::nullopt;
  Lines lines = SplitLines(text);
  const std::optional<JailAt> at = FindJail(root, jail);
  const std::optional<JailAt> at_edited = FindJail(edited, jail);
  if (!at || !at_edited) return std::nullopt;
  const std::size_t indent = BlockMapIndent(*at->jails, at->jails_key->position.line, lines);
  if (indent == std::string::npos) return std::nullopt;
  const auto [begin, end] = EntryLines(*at->jails, at->index, indent, lines);
  const auto& [k, v] = at_edited->jails->entries[at_edited->index];
  SpliceLines(lines, begin, end, EntryText(k, v, indent));
  out = JoinLines(lines);
  if (internal::ParseYaml(*out, &reread, &problem) && SameTree(reread, edited)) return out;
  return std::nullopt;
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
  std::vector<YamlNode> values(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].value.empty()) continue;
    if (!internal::ParseYaml(keys[i].value, &values[i], &problem)) {
      return absl::InvalidArgumentError(ToAbsl(StrCat(
          "key ", internal::Quote(keys[i].key), ": value ", internal::Quote(keys[i].value),
          " is not YAML: ", problem.message)));
    }
  }
  YamlNode edited = root;
  JW_RETURN_IF_ERROR(EditTree(edited, filename, jail, keys, values));
  if (std::optional<std::string> out = EditText(text, jail, keys, values, edited)) {
    return *std::move(out);
  }
  // A layout the line edit cannot follow (the jails: map itself in flow
  // style): the whole tree written again.
  return internal::EmitYaml(edited);
}

namespace {

absl::Status EditTree(YamlNode& root, std::string_view filename, std::string_view jail,
                      const std::vector<JailKeyValue>& keys, const std::vector<YamlNode>& values) {
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
    return absl::NotFoundError(ToAbsl(StrCat("the policy (", filename, ") defines no jail ",
                                             internal::Quote(jail))));
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const JailKeyValue& kv = keys[i];
    auto& entries = mine->entries;
    std::size_t at = entries.size();
    for (std::size_t e = 0; e < entries.size(); ++e) {
      if (entries[e].first.IsScalar() && entries[e].first.scalar == kv.key) at = e;
    }
    if (kv.value.empty()) {  // key= : back to the template's or the default
      if (at < entries.size()) entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(at));
      continue;
    }
    if (at == entries.size()) {
      YamlNode key;
      key.kind = YamlNode::Kind::kScalar;
      key.scalar = kv.key;
      entries.emplace_back(std::move(key), values[i]);
    } else {
      entries[at].second = values[i];
    }
  }
  return absl::OkStatus();
}

}  // namespace

}  // namespace jailwarden::policy
