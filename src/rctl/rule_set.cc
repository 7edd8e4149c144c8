#include "jailwarden/rctl/rule_set.h"

#include <algorithm>
#include <cerrno>

#include "jailwarden/base/strings.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::rctl {
namespace {

// Position of a subject type in rctl_get_rules output: process rules
// (walking processes), then loginclass, uidinfo and prison containers.
int OutputRank(SubjectType s) {
  switch (s) {
    case SubjectType::kProcess:
      return 0;
    case SubjectType::kLoginclass:
      return 1;
    case SubjectType::kUser:
      return 2;
    case SubjectType::kJail:
      return 3;
    case SubjectType::kUndefined:
      return 4;
  }
  return 4;
}

}  // namespace

Rule ReplacementFilter(const Rule& rule) {
  Rule filter = rule;
  if (rule.action == Action::kDeny) filter.amount = kAmountUndefined;
  return filter;
}

std::string RuleSet::KeyOf(const Rule& rule) {
  std::string key;
  key.reserve(rule.subject_id.size() + 8);
  key.push_back(static_cast<char>(rule.subject));
  key.push_back(static_cast<char>(rule.resource.has_value()
                                      ? static_cast<int>(Index(*rule.resource))
                                      : -1));
  key.push_back(static_cast<char>(rule.action));
  key.push_back(static_cast<char>(rule.per));
  key.append(rule.subject_id);
  return key;
}

absl::Status RuleSet::Add(Rule rule) {
  if (!rule.FullySpecified()) {
    return ErrnoStatus(EINVAL, "rule not fully specified");
  }
  JW_RETURN_IF_ERROR(ValidateForAdd(rule));
  std::string key = KeyOf(rule);
  uint32_t& count = key_counts_[key];
  if (count > 0) {
    // rctl_rule_add: a deny replaces every deny that differs only in amount;
    // any other rule replaces an identical one.
    const Rule filter = ReplacementFilter(rule);
    count -= static_cast<uint32_t>(std::erase_if(
        rules_, [&](const Rule& r) { return RuleMatchesFilter(r, filter); }));
  }
  ++count;
  rules_.push_back(std::move(rule));
  ++generation_;
  return absl::OkStatus();
}

absl::StatusOr<int> RuleSet::Remove(const Rule& filter) {
  const std::size_t removed = std::erase_if(rules_, [&](const Rule& r) {
    if (!RuleMatchesFilter(r, filter)) return false;
    auto it = key_counts_.find(KeyOf(r));
    if (--it->second == 0) key_counts_.erase(it);
    return true;
  });
  if (removed == 0) {
    return ErrnoStatus(ESRCH, "no rule matched the filter");
  }
  ++generation_;
  return static_cast<int>(removed);
}

std::vector<Rule> RuleSet::List(const Rule& filter) const {
  std::vector<Rule> out;
  // Newest first (LIST_INSERT_HEAD in each container).
  for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
    if (RuleMatchesFilter(*it, filter)) out.push_back(*it);
  }
  std::stable_sort(out.begin(), out.end(), [](const Rule& a, const Rule& b) {
    return OutputRank(a.subject) < OutputRank(b.subject);
  });
  return out;
}

std::string RuleSet::ListText(const Rule& filter) const {
  std::string out;
  for (const Rule& r : List(filter)) {
    if (!out.empty()) out.push_back(',');
    out.append(FormatRule(r));
  }
  return out;
}

}  // namespace jailwarden::rctl
