#pragma once

// service::Lifecycle: every state-changing call on jails — create, destroy,
// start, stop, restart, one-shot run, making the policy's jails true, and
// the periodic upkeep — serialized by one control lock, which the Reloader
// also takes (Serialized) to apply a new policy in one step. It holds the
// running policy; the rules live in the RuleDatabase and the running jails
// in the JailRegistry.
//
// Thread-safety: every method is thread-safe; the *Locked ones only inside
// Serialized().

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "jailwarden/api/daemon.h"
#include "jailwarden/jail/manager.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/racct/shared_slot.h"
#include "jailwarden/service/jail_registry.h"
#include "jailwarden/service/rule_database.h"

namespace jailwarden::service {

class Lifecycle {
 public:
  // Every argument must outlive the Lifecycle.
  Lifecycle(policy::Policy policy, jail::Manager& manager, RuleDatabase& rules,
            JailRegistry& registry);

  // Start-up: the policy's rules into the database, then every policy jail
  // defined and started (dependencies first). Jail failures are logged and
  // returned as "name: reason" lines; a refused rule set is an error.
  absl::StatusOr<std::vector<std::string>> ApplyInitialPolicy();

  // api::Daemon's lifecycle calls. CreateJail defines the jail and adds its
  // limits; if starting it fails (its limits cannot be applied, a hook
  // fails) the definition and the limits are taken back and the error
  // returned. CreateJail's limits are runtime rules, recorded durably
  // before it returns (RuleDatabase). DestroyJail also drops the jail's
  // runtime rules (its rules become the policy's for it, if any).
  absl::Status CreateJail(const api::CreateJailRequest& request);
  absl::Status DestroyJail(std::string_view name);
  absl::Status StartJail(std::string_view name);
  absl::Status StopJail(std::string_view name);
  absl::Status RestartJail(std::string_view name);
  absl::StatusOr<platform::ExecResult> Run(const api::RunRequest& run,
                                           const platform::ExecRequest& request);
  // Run's checks of `run` (template, name, limits) without making anything.
  absl::Status CheckRun(const api::RunRequest& run);

  // Worker thread, every maintenance interval: jails that ended by
  // themselves noticed, adopted ones registered, limits reconciled.
  void Maintain();
  // Shutdown with stop_jails_on_exit.
  absl::Status StopAll();

  // The running policy, for readers that must not wait.
  std::shared_ptr<const policy::Policy> policy() const { return published_policy_.Load(); }

  // Runs `fn` under the control lock.
  template <typename Fn>
  auto Serialized(Fn&& fn) {
    absl::MutexLock l(&mu_);
    return fn();
  }
  const policy::Policy& PolicyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return policy_;
  }
  void SetPolicyLocked(policy::Policy next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Defines (or updates) and starts the policy's jails that should run;
  // returns the failures as "name: reason".
  std::vector<std::string> EnsurePolicyJailsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Registers what runs and publishes the jail list.
  void SyncLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  jail::Manager& manager() { return manager_; }

  absl::Mutex& mutex() ABSL_LOCK_RETURNED(mu_) { return mu_; }

 private:
  absl::StatusOr<std::vector<rctl::Rule>> LimitsFor(const platform::JailSpec& spec,
                                                    std::string_view template_name,
                                                    const std::vector<std::string>& limits,
                                                    platform::JailSpec* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes a one-shot jail's rules (not recorded).
  absl::Status DropTransientJailRules(const std::string& name);

  jail::Manager& manager_;
  RuleDatabase& rules_;
  JailRegistry& registry_;
  absl::Mutex mu_;
  policy::Policy policy_ ABSL_GUARDED_BY(mu_);
  int64_t run_counter_ ABSL_GUARDED_BY(mu_) = 0;
  racct::SharedSlot<const policy::Policy> published_policy_;
};

}  // namespace jailwarden::service
