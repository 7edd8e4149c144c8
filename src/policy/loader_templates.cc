// internal::Loader: the templates: section, and template inheritance
// (merged on the YAML tree; see loader_impl.h).

#include <algorithm>
#include <iterator>

#include "jailwarden/base/strings.h"
#include "policy/loader_impl.h"

namespace jailwarden::policy::internal {

void Loader::ParseTemplates(const YamlNode& node, Policy& policy) {
  if (node.IsNull()) {
    return;
  }
  if (!ExpectMap(node, "templates")) {
    return;
  }
  CheckKeys(node, {}, "templates");  // duplicates and non-scalar keys only
  const std::vector<std::string_view> keys = JailKeys();
  const std::string expected =
      StrCat(Join(std::vector<std::string_view>(std::begin(kCoreJailKeys),
                                                std::end(kCoreJailKeys)),
                  ", "),
             ", or a jail(8) parameter listed in docs/policy.md");
  for (const auto& [key, value] : node.entries) {
    if (!key.IsScalar() || templates_.count(key.scalar) != 0) {
      continue;
    }
    if (std::optional<std::string> p = JailNameProblem(key.scalar)) {
      Error(key.position,
            StrCat("template name ", Quote(key.scalar), ": ", *p));
    }
    TemplateState& t = templates_[key.scalar];
    t.node = &value;
    t.position = key.position;
    template_order_.push_back(key.scalar);
    if (value.IsMap()) {
      CheckKeys(value, keys, StrCat("template ", Quote(key.scalar)), expected);
    } else if (!value.IsNull()) {
      Error(value.position, StrCat("template ", Quote(key.scalar),
                                   ": expected a map, got ", Found(value)));
      t.state = TemplateState::kBad;
    }
  }
  for (const std::string& name : template_order_) {
    std::vector<std::string> stack;
    Resolve(name, stack);
  }
  for (const std::string& name : template_order_) {
    TemplateState& t = templates_[name];
    if (t.state != TemplateState::kDone) {
      continue;
    }
    TemplatePolicy tp;
    tp.name = name;
    tp.position = t.position;
    if (const YamlNode* parent = t.node->Find("template");
        parent != nullptr && parent->IsScalar()) {
      tp.parent = parent->scalar;
    }
    JailExtras extras;
    tp.resolved = ReadJail(name, t.merged, t.position, /*is_template=*/true,
                           policy.server, &extras);
    policy.templates.push_back(std::move(tp));
  }
}

TemplateState* Loader::Reference(const YamlNode& ref,
                                 std::string_view context) {
  if (!ref.IsScalar()) {
    ErrorOnce(ref.position,
              StrCat("template in ", context,
                     ": expected a template name, got ", Found(ref)),
              nullptr);
    return nullptr;
  }
  auto it = templates_.find(ref.scalar);
  if (it == templates_.end()) {
    std::vector<std::string_view> names(template_order_.begin(),
                                        template_order_.end());
    ErrorOnce(ref.position,
              StrCat("unknown template ", Quote(ref.scalar), " in ", context,
                     names.empty()
                         ? "; no templates are defined"
                         : StrCat("; defined templates: ", Join(names, ", "))),
              nullptr);
    return nullptr;
  }
  return &it->second;
}

void Loader::Resolve(const std::string& name, std::vector<std::string>& stack) {
  TemplateState& t = templates_[name];
  if (t.state != TemplateState::kUnvisited) {
    return;
  }
  t.state = TemplateState::kVisiting;
  stack.push_back(name);
  YamlNode base;
  base.kind = YamlNode::Kind::kMap;
  bool ok = true;
  if (const YamlNode* ref =
          t.node->IsMap() ? t.node->Find("template") : nullptr;
      ref != nullptr && !ref->IsNull()) {
    TemplateState* parent = Reference(*ref, StrCat("template ", Quote(name)));
    if (parent == nullptr) {
      ok = false;
    } else if (parent->state == TemplateState::kVisiting) {
      std::vector<std::string_view> cycle;
      auto from = std::find(stack.begin(), stack.end(), ref->scalar);
      cycle.assign(from, stack.end());
      cycle.push_back(ref->scalar);
      ErrorOnce(ref->position, StrCat("template cycle: ", Join(cycle, " -> ")),
                nullptr);
      ok = false;
    } else {
      Resolve(ref->scalar, stack);
      if (parent->state != TemplateState::kDone) {
        ok = false;
      } else {
        base = parent->merged;
      }
    }
  }
  stack.pop_back();
  if (!ok) {
    t.state = TemplateState::kBad;
    return;
  }
  t.merged = t.node->IsMap() ? Merge(base, *t.node) : base;
  t.state = TemplateState::kDone;
}

YamlNode Loader::Merge(const YamlNode& base, const YamlNode& over) {
  if (!base.IsMap() || !over.IsMap()) {
    return over;
  }
  YamlNode out = base;
  out.position = over.position;
  for (const auto& [key, value] : over.entries) {
    if (!key.IsScalar() || key.scalar == "template") {
      continue;
    }
    auto it = std::find_if(
        out.entries.begin(), out.entries.end(), [&](const auto& e) {
          return e.first.IsScalar() && e.first.scalar == key.scalar;
        });
    if (value.IsNull()) {
      if (it != out.entries.end()) {
        out.entries.erase(it);
      }
      continue;
    }
    if (it == out.entries.end()) {
      out.entries.emplace_back(key, value);
    } else if (it->second.IsMap() && value.IsMap()) {
      it->second = Merge(it->second, value);
      it->first = key;
    } else {
      *it = {key, value};
    }
  }
  return out;
}

}  // namespace jailwarden::policy::internal
