#pragma once

// service::JailRegistry: the running jails as the backend sees them. A jail
// is registered with the usage reader and the limit enforcer the moment its
// kernel jail exists (jail::ManagerOptions::on_kernel_jail_created, before
// exec.created, the network and exec.start) and takes its rules from the
// RuleDatabase then, so a workload never runs unlimited: if its limits
// cannot be applied the start fails. Adopted jails are registered by
// Sync(). The registry is the database's LimitApplier, and it publishes the
// jail list that the API, metrics and the tick router read.
//
// Lock order: RuleDatabase, then the registry's own lock. Thread-safe.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "jailwarden/jail/manager.h"
#include "jailwarden/metrics/collector.h"
#include "jailwarden/platform/limit_enforcer.h"
#include "jailwarden/racct/shared_slot.h"
#include "jailwarden/service/host_backend.h"
#include "jailwarden/service/rule_database.h"

namespace jailwarden::service {

// The devctl-style line a drift appends to the event stream (/v1/events),
// beside the engine's "!system=RCTL" lines:
//   !system=jailwarden subsystem=limit type=drift jail=web resource=memoryuse
//   mechanism=/sys/fs/cgroup/memory/.../memory.limit_in_bytes
//   found=9223372036854771712 want=33554432 repaired=yes
// Whitespace inside a value becomes ','.
std::string DriftEventLine(std::string_view jail, const platform::LimitDrift& drift);

class JailRegistry final : public LimitApplier {
 public:
  // `backend` and `rules` must outlive the registry. Sets itself as the
  // database's applier.
  JailRegistry(HostBackend& backend, RuleDatabase& rules);

  // The kernel jail exists: sample it and apply its rules. An error (the
  // reader or the enforcer refused) leaves it unregistered; the caller
  // (the jail manager) then rolls the start back.
  absl::Status OnKernelJailCreated(const platform::JailInstance& instance)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The kernel jail is gone: stop sampling and enforcing it.
  void OnKernelJailRemoved(const std::string& name) ABSL_LOCKS_EXCLUDED(mu_);

  // An OCI container observed read-only (service/oci_watcher.h): sampled
  // through HostBackend::ObserveJail, never given rules or limits.
  // AlreadyExists when a jailwarden jail of that name is registered (a
  // jail registered later takes the name over: the container is then
  // forgotten here and its reading replaced). Re-observes when the pid
  // changed.
  absl::Status ObserveReadOnly(const platform::JailInstance& instance)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Stops sampling an observed container; nothing if the name is not one.
  void ForgetReadOnly(const std::string& name) ABSL_LOCKS_EXCLUDED(mu_);

  // Registers the running jails in `records` the hook did not see (adopted
  // ones; a failure is logged and retried at the next Sync), forgets the
  // stopped ones, and publishes `records` as the jail list.
  void Sync(std::vector<jail::JailRecord> records) ABSL_LOCKS_EXCLUDED(mu_);

  // Periodic upkeep of every registered jail's limits
  // (HostBackend::Reconcile: new processes get the per-process rlimits),
  // then the drift check of a slice of them: every kernel-side limit read
  // back and, where it changed, written back (LimitEnforcer::
  // CheckAndRepair); each drift is logged, counted (DriftCounts) and
  // handed to the drift listener. Failures are logged.
  //
  // The slice (DriftChecksPerPass) walks the jails round-robin in name
  // order, so a jail registered throughout is checked at least once every
  // kDriftSweepPasses calls (4 s at the daemon's 1 s maintenance pass); up
  // to kDriftMinPerPass jails, every jail at every call. What the check
  // catches: the knobs are host-side files a jail's root cannot reach
  // (its cgroup namespace root is the leaf below them), so drift comes
  // from the host (an operator, another manager rewriting the cgroup) or
  // from a delegation; bounded lateness is the price of not reading
  // every knob of every jail each second.
  void ReconcileLimits() ABSL_LOCKS_EXCLUDED(mu_);

  // Passes within which every jail's drift check comes round once.
  static constexpr std::size_t kDriftSweepPasses = 4;
  // Jails checked at each pass at least (all of them when fewer).
  static constexpr std::size_t kDriftMinPerPass = 16;
  // How many jails of `registered` one ReconcileLimits checks.
  static std::size_t DriftChecksPerPass(std::size_t registered) {
    if (registered <= kDriftMinPerPass) return registered;
    const std::size_t share = (registered + kDriftSweepPasses - 1) / kDriftSweepPasses;
    return share > kDriftMinPerPass ? share : kDriftMinPerPass;
  }

  // Called from ReconcileLimits (the maintenance thread, no registry lock
  // held) for each limit found drifted, after it was written back. Set
  // before the maintenance thread starts.
  using DriftListener =
      std::function<void(const std::string& jail, const platform::LimitDrift& drift)>;
  void SetDriftListener(DriftListener listener) { drift_listener_ = std::move(listener); }

  // Drifts found per (jail, rctl resource) since the daemon started, for
  // jailwarden_limit_drift_total. Thread-safe.
  std::vector<metrics::LimitDriftCount> DriftCounts() const ABSL_LOCKS_EXCLUDED(drift_mu_);

  // The latest jail list (every record, ephemeral ones included).
  std::shared_ptr<const std::vector<jail::JailRecord>> Records() const {
    return records_.Load();
  }

  // LimitApplier.
  absl::StatusOr<AppliedEnforcements> ApplyChanges(
      const std::vector<JailRulesChange>& changes) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Registered {
    platform::JailRef ref;
    int64_t init_pid = -1;
  };
  absl::Status Register(const platform::JailInstance& instance) ABSL_LOCKS_EXCLUDED(mu_);
  void ForgetLocked(std::map<std::string, Registered, std::less<>>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  HostBackend& backend_;
  RuleDatabase& rules_;
  absl::Mutex mu_;
  std::map<std::string, Registered, std::less<>> registered_ ABSL_GUARDED_BY(mu_);
  // Observed OCI containers: name -> the pid they were observed with.
  std::map<std::string, int64_t, std::less<>> observed_ ABSL_GUARDED_BY(mu_);
  // The last jail ReconcileLimits drift-checked ("" before the first).
  std::string drift_cursor_ ABSL_GUARDED_BY(mu_);
  racct::SharedSlot<const std::vector<jail::JailRecord>> records_;
  DriftListener drift_listener_;
  mutable absl::Mutex drift_mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> drift_counts_
      ABSL_GUARDED_BY(drift_mu_);
};

}  // namespace jailwarden::service
