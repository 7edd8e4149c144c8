// internal::Loader: a jail's limits:, and the checks rctl(8) and
// rctl_add_rule(2) make of one rule.

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/resource.h"
#include "jailwarden/rctl/user_form.h"
#include "policy/loader_impl.h"

namespace jailwarden::policy::internal {

void Loader::ReadLimits(const YamlNode& value, const std::string& jail_name,
                        const std::string& context, JailPolicy* jail,
                        JailExtras* x) {
  const std::string what = StrCat("'limits' in ", context);
  if (!ExpectMap(value, what, x)) {
    return;
  }
  std::map<std::string, Position> seen_keys;
  std::map<std::string, Position> seen_rules;
  for (const auto& [key, entries] : value.entries) {
    if (!key.IsScalar()) {
      ErrorOnce(key.position,
                StrCat(what, ": expected a resource name, got ", Found(key)),
                x);
      continue;
    }
    const std::optional<rctl::Resource> resource =
        rctl::ParseResourceName(key.scalar);
    if (!resource.has_value()) {
      std::vector<std::string_view> names;
      for (const rctl::ResourceInfo& info : rctl::ResourceTable()) {
        names.push_back(info.name);
      }
      const std::string s = Suggest(key.scalar, names);
      ErrorOnce(
          key.position,
          StrCat("unknown resource ", Quote(key.scalar), " in ", what,
                 s.empty() ? StrCat("; expected one of: ", Join(names, ", "))
                           : StrCat("; did you mean ", Quote(s), "?")),
          x);
      continue;
    }
    const std::string canonical(rctl::ResourceName(*resource));
    if (auto [it, inserted] = seen_keys.emplace(canonical, key.position);
        !inserted) {
      ErrorOnce(key.position,
                StrCat("duplicate resource ", Quote(key.scalar), " in ", what,
                       " (first at ", PosText(it->second),
                       "); give several actions as a list"),
                x);
      continue;
    }
    if (entries.IsNull()) {
      continue;  // removes an inherited limit
    }
    std::vector<const YamlNode*> items;
    if (entries.IsSequence()) {
      for (const YamlNode& item : entries.items) {
        items.push_back(&item);
      }
    } else {
      items.push_back(&entries);
    }
    for (const YamlNode* item : items) {
      if (!item->IsScalar() || item->scalar.find('=') == std::string::npos) {
        ErrorOnce(item->position,
                  StrCat(canonical, " in ", what,
                         ": expected action=amount[/per] such as deny=512M "
                         "or a list of those, got ",
                         Found(*item)),
                  x);
        continue;
      }
      const std::string arg = StrCat("jail:", jail_name, ":", key.scalar, ":",
                                     StripWhitespace(item->scalar));
      absl::StatusOr<rctl::Rule> rule =
          KernelRule(arg, RuleUse::kJailLimit, item->position, x);
      if (!rule.ok()) {
        continue;
      }
      const std::string dedupe = RuleKey(*rule);
      if (auto [it, inserted] = seen_rules.emplace(dedupe, item->position);
          !inserted) {
        ErrorOnce(item->position,
                  rule->action == rctl::Action::kDeny
                      ? StrCat("duplicate limit ", Quote(arg), ": a deny for ",
                               canonical, " is already given at ",
                               PosText(it->second),
                               " and the kernel keeps only the last one")
                      : StrCat("duplicate limit ", Quote(arg),
                               ": the same rule is already given at ",
                               PosText(it->second)),
                  x);
        continue;
      }
      jail->limits.push_back(*rule);
      jail->limit_texts.push_back(arg);
      x->limit_positions.push_back(item->position);
    }
  }
}

absl::StatusOr<rctl::Rule> Loader::KernelRule(const std::string& arg,
                                              RuleUse use, Position pos,
                                              JailExtras* x) {
  absl::StatusOr<rctl::Rule> rule =
      CheckRule(arg, {use, true, options_.resolver});
  if (!rule.ok()) {
    ErrorOnce(pos, std::string(ToStd(rule.status().message())), x);
  }
  return rule;
}

}  // namespace jailwarden::policy::internal
