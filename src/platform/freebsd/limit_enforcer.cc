#include "jailwarden/platform/freebsd/limit_enforcer.h"

#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::platform {

absl::StatusOr<std::vector<Enforcement>> FreeBsdLimitEnforcer::Apply(
    const JailRef& jail, const std::vector<rctl::Rule>& rules) {
  rctl::Rule scope;
  scope.subject = rctl::SubjectType::kJail;
  scope.subject_id = jail.name;
  for (const rctl::Rule& r : rules) {
    if (r.subject != rctl::SubjectType::kJail || r.subject_id != jail.name) {
      return absl::InvalidArgumentError(
          StrCat("rule '", rctl::FormatRule(r), "' is not a rule of jail:",
                 jail.name));
    }
  }
  absl::StatusOr<ReconcileResult> result = reconciler_.Reconcile(scope, rules);
  if (!result.ok()) return result.status();
  for (const rctl::Rule& r : result->foreign) {
    LogWarning("rctl rule not made by jailwarden left in place",
               {{"jail", jail.name}, {"rule", rctl::FormatRule(r)}});
  }
  for (const rctl::Rule& r : result->replaced_foreign) {
    LogWarning("rctl rule not made by jailwarden replaced by a policy deny",
               {{"jail", jail.name}, {"rule", rctl::FormatRule(r)}});
  }
  std::vector<Enforcement> out;
  out.reserve(rules.size());
  for (const rctl::Rule& r : rules) out.push_back(Describe(r));
  {
    absl::MutexLock lock(&mu_);
    last_[jail.name] = *std::move(result);
  }
  return out;
}

Enforcement FreeBsdLimitEnforcer::Describe(const rctl::Rule& rule) const {
  Enforcement e;
  e.rule = rule;
  if (e.rule.per == rctl::SubjectType::kUndefined) e.rule.per = e.rule.subject;
  e.fidelity = Fidelity::kExact;
  e.mechanism = "rctl_add_rule";
  return e;
}

ReconcileResult FreeBsdLimitEnforcer::LastResult(const std::string& jail_name) const {
  absl::MutexLock lock(&mu_);
  auto it = last_.find(jail_name);
  return it == last_.end() ? ReconcileResult{} : it->second;
}

}  // namespace jailwarden::platform
