#pragma once

// The kernel's rule database semantics (rctl_rule_add, rctl_rule_remove,
// rctl_get_rules in sys/kern/kern_rctl.c; ../shared/reference/freebsd-rctl.md
// §6.6, §6.9, §8.3, §8.4). Holds rules, not process links: which processes a
// rule applies to is the engine's and the backend's business.
//
// Thread-compatible: callers serialize writers; copies are cheap enough to
// hand to the engine's Compile().

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/rctl/rule.h"

namespace jailwarden::rctl {

// rctl_rule_add's replacement rule: the filter matching every rule that
// adding `rule` replaces — for a deny, the same rule with any amount; for
// any other action, the identical rule (so adding twice is idempotent).
Rule ReplacementFilter(const Rule& rule);

class RuleSet {
 public:
  // rctl_rule_add: `rule` must be fully specified (EINVAL otherwise) and
  // pass ValidateForAdd (EOPNOTSUPP). A deny removes every rule equal to it
  // but for the amount; any other action removes an identical rule first, so
  // adding twice is idempotent. The new rule becomes the newest.
  // O(1) amortized when no rule shares its subject, resource, action and
  // per; O(n) when one does.
  absl::Status Add(Rule rule);

  // rctl_rule_remove: removes every rule matching `filter` and returns how
  // many; ESRCH (NotFound) when none matched.
  absl::StatusOr<int> Remove(const Rule& filter);

  // The rules matching `filter` in rctl_get_rules order: process rules,
  // then loginclass, user, jail; newest first within each subject type.
  std::vector<Rule> List(const Rule& filter) const;

  // List() joined as rctl_get_rules(2) returns it: comma separated, no
  // trailing comma.
  std::string ListText(const Rule& filter) const;

  // Every rule, oldest first.
  const std::vector<Rule>& rules() const { return rules_; }
  std::size_t size() const { return rules_.size(); }
  bool empty() const { return rules_.empty(); }

  // Increases on every change, so a compiled form can tell it is stale.
  uint64_t generation() const { return generation_; }

  friend bool operator==(const RuleSet& a, const RuleSet& b) {
    return a.rules_ == b.rules_;
  }

 private:
  // Everything but the amount: a deny replaces rules with the same key, any
  // other rule can only be identical to one with the same key.
  static std::string KeyOf(const Rule& rule);

  std::vector<Rule> rules_;  // oldest first
  // How many rules of rules_ have each key, so Add skips the scan when none.
  absl::flat_hash_map<std::string, uint32_t> key_counts_;
  uint64_t generation_ = 0;
};

}  // namespace jailwarden::rctl
