#pragma once

// service::Lifecycle: every state-changing call on jails — create, destroy,
// start, stop, restart, one-shot run, making the policy's jails true, and
// the periodic upkeep — serialized by one control lock, which the Reloader
// also takes (Serialized) to apply a new policy in one step. It holds the
// running policy; the rules live in the RuleDatabase and the running jails
// in the JailRegistry.
//
// Every multi-step change (create+start, start, stop, restart, destroy, and
// the Reloader's apply) is a journaled operation (jail::Journal in
// <state_dir>/journal): its intent is recorded durably before the first
// step, each step after it is done, and the record removed when the call
// answers. ApplyInitialPolicy replays what a killed daemon left, before
// anything is served: create is rolled back unless it finished, every other
// kind is completed (docs/architecture.md, "State").
//
// Thread-safety: every method is thread-safe; the *Locked ones only inside
// Serialized().

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "jailwarden/api/daemon.h"
#include "jailwarden/engine/event_stream.h"
#include "jailwarden/jail/journal.h"
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

  // Start-up: the policy's rules into the database; the journal opened and
  // every operation an earlier daemon left open completed or rolled back;
  // jails the previous policy defined and this one does not stopped and
  // forgotten (server.stop_removed_jails); then every policy jail defined
  // and started (dependencies first), and the policy's jail names recorded
  // (<state_dir>/policy-jails.txt). Jail failures are logged and returned as
  // "name: reason" lines; a refused rule set, an unreadable journal or
  // record (DataLoss naming the file) or a failed write is an error.
  absl::StatusOr<std::vector<std::string>> ApplyInitialPolicy();

  // api::Daemon's lifecycle calls. CreateJail defines the jail and adds its
  // limits; if starting it fails (its limits cannot be applied, a hook
  // fails) the definition and the limits are taken back and the error
  // returned. CreateJail's limits are runtime rules, recorded durably
  // before it returns (RuleDatabase). DestroyJail also drops the jail's
  // runtime rules (its rules become the policy's for it, if any).
  absl::Status CreateJail(const api::CreateJailRequest& request);
  //
  // Start, stop, restart and destroy say what they did (api::JailChange):
  // a start of a running jail or a stop of a stopped one changes nothing
  // and answers changed=false. Each change publishes its events (created,
  // started, stopped, restarted, destroyed; dependencies and dependents
  // started or stopped along with it included) with details {"by": BY}.
  absl::StatusOr<api::JailChange> DestroyJail(std::string_view name,
                                              std::string_view by = "api");
  absl::StatusOr<api::JailChange> StartJail(std::string_view name, std::string_view by = "api");
  absl::StatusOr<api::JailChange> StopJail(std::string_view name, std::string_view by = "api");
  absl::StatusOr<api::JailChange> RestartJail(std::string_view name,
                                              std::string_view by = "api");
  // `jailwarden set NAME KEY=VALUE` of a jail created through the API
  // (not the policy's): its spec with `keys` set, read by the policy loader
  // (policy::SetJailSpecKeys), written atomically to its config.json; a
  // running jail is restarted with it, journaled as a restart whose intent
  // is recorded before the write. A restart that fails puts the old
  // definition back and starts it again. The result says "restart jail
  // NAME" or "change jail NAME" (changed=false when the keys already are
  // so); dry_run only says it. Errors, nothing changed: NotFound;
  // SetJailSpecKeys's; the hook's or backend's error of the restart.
  absl::StatusOr<api::ApplyResult> SetApiJailKeysLocked(
      std::string_view name, const std::vector<policy::JailKeyValue>& keys, bool dry_run)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
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

  // The event log jail changes are published to; null (the default): none.
  // Set once, before ApplyInitialPolicy.
  void SetEventLog(engine::EventStream* events) { events_ = events; }
  // Every defined (not one-shot) jail's state, ended jails noticed first.
  using JailStates = std::map<std::string, jail::JailState>;
  JailStates JailStatesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes what changed since `before`, per jail in name order: created
  // (then started), destroyed, started, stopped, or restarted for the
  // jails in `restarted` that run again. details {"by": by}.
  void PublishChangesLocked(const JailStates& before, const std::set<std::string>& restarted,
                            std::string_view by) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publishes one event (nothing without an event log).
  void Publish(std::string_view type, std::string_view jail,
               std::vector<engine::EventField> details);

  // Journal helpers for the operations under the control lock (the
  // Reloader's apply too). Begin records the intent durably (an error means
  // nothing was done); Step and End log a failed write and go on (the
  // replay of an older record is safe: every replay is idempotent). Before
  // ApplyInitialPolicy opened the journal they record nothing (id 0).
  absl::StatusOr<uint64_t> BeginOpLocked(
      std::string kind, std::map<std::string, std::vector<std::string>> args)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StepOpLocked(uint64_t id, std::string step) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndOpLocked(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes <state_dir>/policy-jails.txt: the running policy's jail names.
  absl::Status RecordPolicyJailsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Destroys `name` (stopping it in jail(8) order) and drops its runtime
  // rules; NotFound is success. For removals the policy decided.
  absl::Status RemoveJailLocked(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // <state_dir>/policy-jails.txt, one name a line.
  static constexpr char kPolicyJailsFile[] = "policy-jails.txt";

 private:
  // lifecycle_recovery.cc: start-up replay and removed jails.
  absl::Status ReplayJournalLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReplayOneLocked(const jail::JournalOp& op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status StopRemovedJailsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::StatusOr<std::vector<rctl::Rule>> LimitsFor(const platform::JailSpec& spec,
                                                    std::string_view template_name,
                                                    const std::vector<std::string>& limits,
                                                    platform::JailSpec* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes a one-shot jail's rules (not recorded).
  absl::Status DropTransientJailRules(const std::string& name);

  jail::Manager& manager_;
  engine::EventStream* events_ = nullptr;
  RuleDatabase& rules_;
  JailRegistry& registry_;
  absl::Mutex mu_;
  policy::Policy policy_ ABSL_GUARDED_BY(mu_);
  int64_t run_counter_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<jail::Journal> journal_ ABSL_GUARDED_BY(mu_);
  racct::SharedSlot<const policy::Policy> published_policy_;
  // What the last SyncLocked handed the registry, and how many Maintain
  // passes since skipped it because nothing changed.
  std::optional<jail::Manager::ListVersion> synced_ ABSL_GUARDED_BY(mu_);
  int unchanged_passes_ ABSL_GUARDED_BY(mu_) = 0;
  int passes_since_trim_ ABSL_GUARDED_BY(mu_) = 0;  // Maintain's malloc_trim
};

}  // namespace jailwarden::service
