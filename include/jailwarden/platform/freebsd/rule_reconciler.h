#pragma once

// Keeps the kernel's RCTL rules equal to the policy
// (../shared/reference/freebsd-rctl.md §6.6, §6.9, §8.3): within a scope
// (a filter such as "jail:web1:"), rules the policy wants and the kernel
// lacks are added with rctl_add_rule(2); rules jailwarden itself made that
// the policy no longer wants are removed with rctl_remove_rule(2); rules
// jailwarden did not make (rctl.conf, an admin's rctl -a) are left alone
// and listed.

#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "jailwarden/platform/freebsd/kernel.h"
#include "jailwarden/rctl/rule.h"

namespace jailwarden::platform {

struct ReconcileResult {
  std::vector<rctl::Rule> added;    // by this call
  std::vector<rctl::Rule> removed;  // jailwarden's, no longer wanted
  std::vector<rctl::Rule> kept;     // wanted and already in the kernel
  std::vector<rctl::Rule> foreign;  // in scope, not jailwarden's: left alone
  // Not jailwarden's, but gone because a wanted deny rule replaced it (the
  // kernel keeps one deny per subject/resource/per, §6.6).
  std::vector<rctl::Rule> replaced_foreign;
};

// Thread-safe (one reconcile at a time). The kernel must outlive it.
class FreeBsdRuleReconciler {
 public:
  explicit FreeBsdRuleReconciler(FreeBsdKernel& kernel) : kernel_(kernel) {}

  // Makes the kernel's rules matching `scope` equal `desired` plus the
  // foreign ones. Each desired rule gets per defaulted to its subject (as
  // rctl_add_rule does) and must then be fully specified and match
  // `scope` (InvalidArgument otherwise). Adds come before removals so a
  // changed deny amount is replaced in one kernel step, never lifted.
  // On an add failing, the rules added by this call are removed again and
  // rules the adds displaced are put back, then the add's error is
  // returned (errno in the status: EOPNOTSUPP, EINVAL, ENOSYS, EPERM...).
  absl::StatusOr<ReconcileResult> Reconcile(const rctl::Rule& scope,
                                            const std::vector<rctl::Rule>& desired);

  // Every rule jailwarden made and has not removed, kernel form, so the
  // service can store it and call RestoreOwned after a restart.
  std::vector<std::string> Owned() const;
  void RestoreOwned(const std::vector<std::string>& rules);

 private:
  absl::StatusOr<std::vector<rctl::Rule>> List(const rctl::Rule& scope);

  FreeBsdKernel& kernel_;
  mutable absl::Mutex mu_;
  std::set<std::string> owned_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jailwarden::platform
