#include "jailwarden/platform/freebsd/rule_reconciler.h"

#include <algorithm>
#include <cerrno>
#include <map>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/freebsd/rctl_backend.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::platform {
namespace {

bool Contains(const std::map<std::string, rctl::Rule>& m, const std::string& k) {
  return m.find(k) != m.end();
}

}  // namespace

absl::StatusOr<std::vector<rctl::Rule>> FreeBsdRuleReconciler::List(
    const rctl::Rule& scope) {
  // rctl(8) starts get_rules at 128 KiB; a per-jail scope is far smaller.
  absl::StatusOr<std::string> text = CallRctlGrowing(
      kernel_, &FreeBsdKernel::RctlGetRules, rctl::FormatRule(scope), 16 * 1024);
  if (!text.ok()) return text.status();
  return rctl::ParseRuleList(*text);
}

absl::StatusOr<ReconcileResult> FreeBsdRuleReconciler::Reconcile(
    const rctl::Rule& scope, const std::vector<rctl::Rule>& desired_in) {
  absl::MutexLock lock(&mu_);
  // Desired rules in kernel form, keyed by their text.
  std::map<std::string, rctl::Rule> desired;
  std::vector<std::string> desired_order;
  for (rctl::Rule r : desired_in) {
    if (r.per == rctl::SubjectType::kUndefined) r.per = r.subject;
    if (!r.FullySpecified() || !rctl::RuleMatchesFilter(r, scope)) {
      return absl::InvalidArgumentError(
          StrCat("rule '", rctl::FormatRule(r), "' is not a full rule within '",
                 rctl::FormatRule(scope), "'"));
    }
    std::string key = rctl::FormatRule(r);
    if (!Contains(desired, key)) desired_order.push_back(key);
    desired.emplace(std::move(key), std::move(r));
  }

  absl::StatusOr<std::vector<rctl::Rule>> before = List(scope);
  if (!before.ok()) return before.status();
  std::map<std::string, rctl::Rule> current;
  for (const rctl::Rule& r : *before) current.emplace(rctl::FormatRule(r), r);

  ReconcileResult result;
  std::vector<std::string> added_now;
  for (const std::string& key : desired_order) {
    if (Contains(current, key)) continue;
    if (kernel_.RctlAddRule(key.c_str(), key.size() + 1, nullptr, 0) != 0) {
      const int e = errno;
      absl::Status err = ErrnoStatus(e, StrCat("rctl_add_rule(", key, ")"));
      // Undo: what this call added goes, what it displaced comes back.
      for (const std::string& a : added_now) {
        (void)kernel_.RctlRemoveRule(a.c_str(), a.size() + 1, nullptr, 0);
        owned_.erase(a);
      }
      absl::StatusOr<std::vector<rctl::Rule>> now = List(scope);
      if (now.ok()) {
        std::set<std::string> present;
        for (const rctl::Rule& r : *now) present.insert(rctl::FormatRule(r));
        for (const auto& [k, r] : current) {
          if (!present.contains(k)) {
            (void)kernel_.RctlAddRule(k.c_str(), k.size() + 1, nullptr, 0);
          }
        }
      }
      return err;
    }
    added_now.push_back(key);
    owned_.insert(key);
    result.added.push_back(desired[key]);
  }

  // The kernel after the adds: a new deny may have displaced an old one.
  absl::StatusOr<std::vector<rctl::Rule>> after = List(scope);
  if (!after.ok()) return after.status();
  std::set<std::string> after_keys;
  for (const rctl::Rule& r : *after) {
    const std::string key = rctl::FormatRule(r);
    after_keys.insert(key);
    if (Contains(desired, key)) {
      if (std::find(added_now.begin(), added_now.end(), key) == added_now.end()) {
        result.kept.push_back(r);
      }
      continue;
    }
    if (owned_.contains(key)) {
      if (kernel_.RctlRemoveRule(key.c_str(), key.size() + 1, nullptr, 0) != 0) {
        const int e = errno;
        if (e != ESRCH) {
          return ErrnoStatus(e, StrCat("rctl_remove_rule(", key, ")"));
        }
      }
      owned_.erase(key);
      result.removed.push_back(r);
      continue;
    }
    result.foreign.push_back(r);
  }
  for (const auto& [key, r] : current) {
    if (after_keys.contains(key) || Contains(desired, key)) continue;
    if (owned_.erase(key) > 0) {
      result.removed.push_back(r);
    } else {
      result.replaced_foreign.push_back(r);
    }
  }
  // Owned rules in scope that are gone for other reasons (an admin's
  // rctl -r) are forgotten.
  for (auto it = owned_.begin(); it != owned_.end();) {
    absl::StatusOr<rctl::Rule> r = rctl::ParseRuleText(*it);
    if (r.ok() && rctl::RuleMatchesFilter(*r, scope) && !after_keys.contains(*it) &&
        !Contains(desired, *it)) {
      it = owned_.erase(it);
    } else {
      ++it;
    }
  }
  return result;
}

std::vector<std::string> FreeBsdRuleReconciler::Owned() const {
  absl::MutexLock lock(&mu_);
  return std::vector<std::string>(owned_.begin(), owned_.end());
}

void FreeBsdRuleReconciler::RestoreOwned(const std::vector<std::string>& rules) {
  absl::MutexLock lock(&mu_);
  owned_.insert(rules.begin(), rules.end());
}

}  // namespace jailwarden::platform
