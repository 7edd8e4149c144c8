// internal::Loader: the rules: section, and conflicts between those rules
// and the jails' limits.

#include "jailwarden/base/strings.h"
#include "policy/loader_impl.h"

namespace jailwarden::policy::internal {

void Loader::ParseRules(const YamlNode& node, Policy& policy) {
  if (node.IsNull()) {
    return;
  }
  if (!node.IsSequence()) {
    Error(node.position, StrCat("rules: expected a list of rctl rules such as "
                                "\"user:1001:maxproc:deny=100\", got ",
                                Found(node)));
    return;
  }
  for (const YamlNode& item : node.items) {
    if (!item.IsScalar()) {
      Error(item.position,
            StrCat("rules: expected a rule string "
                   "subject:subject-id:resource:action=amount[/per], got ",
                   Found(item)));
      continue;
    }
    const std::string arg(StripWhitespace(item.scalar));
    absl::StatusOr<rctl::Rule> rule =
        KernelRule(arg, RuleUse::kPolicyRule, item.position, nullptr);
    if (!rule.ok()) {
      continue;
    }
    policy.rules.push_back(*rule);
    policy.rule_texts.push_back(arg);
    rule_positions_.push_back(item.position);
  }
}

void Loader::CheckRuleConflicts(const Policy& policy) {
  std::map<std::string, std::pair<Position, std::string>> seen;
  for (std::size_t j = 0; j < policy.jails.size(); ++j) {
    const JailPolicy& jail = policy.jails[j];
    for (std::size_t i = 0; i < jail.limits.size(); ++i) {
      seen.emplace(RuleKey(jail.limits[i]),
                   std::pair(limit_positions_[j][i], jail.limit_texts[i]));
    }
  }
  for (std::size_t i = 0; i < policy.rules.size(); ++i) {
    const rctl::Rule& r = policy.rules[i];
    auto [it, inserted] = seen.emplace(
        RuleKey(r), std::pair(rule_positions_[i], policy.rule_texts[i]));
    if (inserted) {
      continue;
    }
    Error(rule_positions_[i],
          StrCat("rule ", Quote(policy.rule_texts[i]),
                 r.action == rctl::Action::kDeny ? " replaces " : " repeats ",
                 Quote(it->second.second), " given at ",
                 PosText(it->second.first),
                 " (the kernel keeps one); set it in one place"));
  }
}

}  // namespace jailwarden::policy::internal
