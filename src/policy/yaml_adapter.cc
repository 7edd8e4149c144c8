// The one file that talks to yaml-cpp. yaml-cpp reports errors by throwing
// (YAML::ParserException carries a 0-based Mark); style.md forbids
// exceptions across modules, so everything is caught here and turned into a
// ParseProblem, and the document is copied into a plain YamlNode tree.

#include <exception>
#include <string>

#include "policy/yaml_tree.h"
#include "yaml-cpp/yaml.h"

namespace jailwarden::policy::internal {
namespace {

constexpr int kMaxDepth = 64;
constexpr long kMaxNodes =
    1000000;  // bounds alias ("billion laughs") expansion

Position FromMark(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) {
    return {};
  }
  return {mark.line + 1, mark.column + 1};
}

class Converter {
 public:
  // Returns false and fills problem_ on a limit violation.
  bool Convert(const YAML::Node& in, YamlNode* out, int depth) {
    if (++nodes_ > kMaxNodes) {
      problem_ = {FromMark(in.Mark()),
                  "document too large (more than 1000000 nodes after "
                  "expanding aliases)"};
      return false;
    }
    if (depth > kMaxDepth) {
      problem_ = {FromMark(in.Mark()),
                  "nesting deeper than 64 levels (or a recursive alias)"};
      return false;
    }
    out->position = FromMark(in.Mark());
    switch (in.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out->kind = YamlNode::Kind::kNull;
        return true;
      case YAML::NodeType::Scalar:
        out->kind = YamlNode::Kind::kScalar;
        out->scalar = in.Scalar();
        // yaml-cpp tags plain scalars "?" and quoted ones "!".
        out->quoted = in.Tag() != "?";
        return true;
      case YAML::NodeType::Sequence:
        out->kind = YamlNode::Kind::kSequence;
        out->items.reserve(in.size());
        for (const YAML::Node& item : in) {
          out->items.emplace_back();
          if (!Convert(item, &out->items.back(), depth + 1)) {
            return false;
          }
        }
        return true;
      case YAML::NodeType::Map:
        out->kind = YamlNode::Kind::kMap;
        for (YAML::const_iterator it = in.begin(); it != in.end(); ++it) {
          out->entries.emplace_back();
          auto& [key, value] = out->entries.back();
          if (!Convert(it->first, &key, depth + 1) ||
              !Convert(it->second, &value, depth + 1)) {
            return false;
          }
          // An empty value ("key:") is marked at the next token; the key is
          // where the reader looks.
          if (value.IsNull() || value.position.line == 0) {
            value.position = key.position;
          }
        }
        return true;
    }
    return true;
  }

  const ParseProblem& problem() const { return problem_; }

 private:
  long nodes_ = 0;
  ParseProblem problem_;
};

}  // namespace

const YamlNode* YamlNode::Find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k.IsScalar() && k.scalar == key) {
      return &v;
    }
  }
  return nullptr;
}

std::string_view KindName(YamlNode::Kind kind) {
  switch (kind) {
    case YamlNode::Kind::kNull:
      return "nothing";
    case YamlNode::Kind::kScalar:
      return "a scalar";
    case YamlNode::Kind::kSequence:
      return "a list";
    case YamlNode::Kind::kMap:
      return "a map";
  }
  return "?";
}

bool ParseYaml(std::string_view text, YamlNode* root, ParseProblem* problem) {
  *root = YamlNode{};
  root->position = {1, 1};
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(text));
    if (docs.empty()) {
      return true;
    }
    if (docs.size() > 1) {
      *problem = {FromMark(docs[1].Mark()),
                  "expected one YAML document, found another one here"};
      return false;
    }
    Converter converter;
    if (!converter.Convert(docs[0], root, 0)) {
      *problem = converter.problem();
      return false;
    }
    if (root->position.line == 0) {
      root->position = {1, 1};
    }
    return true;
  } catch (const YAML::Exception& e) {
    *problem = {FromMark(e.mark), e.msg};
    // yaml-cpp's message for a tab in indentation says nothing about tabs.
    if (e.mark.line >= 0) {
      std::size_t start = 0;
      for (int line = 0; line < e.mark.line && start != std::string_view::npos;
           ++line) {
        start = text.find('\n', start);
        if (start != std::string_view::npos) {
          ++start;
        }
      }
      if (start != std::string_view::npos) {
        const std::string_view line =
            text.substr(start, text.find('\n', start) - start);
        const std::size_t indent_end = line.find_first_not_of(" \t");
        if (line.substr(0, indent_end).find('\t') != std::string_view::npos) {
          problem->message +=
              " (a tab in indentation; YAML indents with spaces)";
        }
      }
    }
    return false;
  } catch (const std::exception& e) {
    *problem = {{}, std::string("YAML parser failed: ") + e.what()};
    return false;
  }
}

}  // namespace jailwarden::policy::internal
