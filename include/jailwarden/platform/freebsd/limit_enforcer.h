#pragma once

// FreeBsdLimitEnforcer: on FreeBSD the kernel itself enforces every RCTL
// rule, so each rule is installed as is with rctl_add_rule(2) and its
// fidelity is exact (../shared/reference/linux-mapping.md §1 has the Linux
// counterpart, which is not).

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "jailwarden/platform/freebsd/kernel.h"
#include "jailwarden/platform/freebsd/rule_reconciler.h"
#include "jailwarden/platform/limit_enforcer.h"

namespace jailwarden::platform {

// Thread-safe. The kernel must outlive it.
class FreeBsdLimitEnforcer final : public LimitEnforcer {
 public:
  explicit FreeBsdLimitEnforcer(FreeBsdKernel& kernel)
      : reconciler_(kernel) {}

  // Reconciles the kernel's "jail:<name>:" rules with `rules`. Every rule
  // must have subject jail and id jail.name (InvalidArgument otherwise).
  // Rules jailwarden did not make stay and are logged once per Apply.
  // Errors: as FreeBsdRuleReconciler::Reconcile (what was applied before
  // stays).
  absl::StatusOr<std::vector<Enforcement>> Apply(
      const JailRef& jail, const std::vector<rctl::Rule>& rules) override;

  // kExact, mechanism "rctl_add_rule".
  Enforcement Describe(const rctl::Rule& rule) const override;

  // What the last Apply for `jail_name` found (empty if none).
  ReconcileResult LastResult(const std::string& jail_name) const;

  FreeBsdRuleReconciler& reconciler() { return reconciler_; }

 private:
  FreeBsdRuleReconciler reconciler_;
  mutable absl::Mutex mu_;
  std::map<std::string, ReconcileResult> last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jailwarden::platform
