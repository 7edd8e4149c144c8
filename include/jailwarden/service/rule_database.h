#pragma once

// service::RuleDatabase: the one owner of the daemon's rule set — where the
// kernel's rule list stands on FreeBSD (on Linux there is no kernel one).
// Every change goes through Mutate(): the edit is made on a draft, applied to
// the backend for the running jails it touches all-or-nothing (a failed
// apply is rolled back and its error returned to the caller, the database
// and the published snapshot stay as they were), then published as one
// immutable RuleSnapshot that sampler, engine, metrics and API read.
//
// Jails reach the backend through a LimitApplier (the JailRegistry); a jail
// that starts takes its rules through AttachJail, under the same lock as
// Mutate, so it gets either the rules before a change (and the change then
// reaches it) or the rules after it — never a mix.
//
// The database also knows the policy's rules and keeps the durable record
// of runtime changes to them (RuntimeRules, <state_dir>/runtime-rules.json):
// a recorded Mutate (`rctl -a/-r`, `create -L`) writes the record before it
// returns, and a failed write fails the Mutate and changes nothing. What is
// in force is the policy's rules minus the runtime removals, plus the
// runtime additions (added with rctl_rule_add semantics, so a runtime deny
// replaces the policy's deny for the same subject, resource and per). A
// reload (ApplyPolicy kReload) makes the policy plus the runtime additions
// true: a runtime removal of a policy rule is drift that it repairs.
//
// Lock order: RuleDatabase before the applier's lock. Thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "jailwarden/platform/limit_enforcer.h"
#include "jailwarden/racct/shared_slot.h"
#include "jailwarden/rctl/rule.h"
#include "jailwarden/service/rule_snapshot.h"
#include "jailwarden/service/runtime_rules.h"

namespace jailwarden::service {

// One jail whose rules a change alters.
struct JailRulesChange {
  std::string jail;
  std::vector<rctl::Rule> before;
  std::vector<rctl::Rule> after;
};

// Jail name → what the backend reported applying (running jails only).
using AppliedEnforcements = std::map<std::string, std::vector<platform::Enforcement>>;

// The backend side of the database: which jails run and how to give them
// their rules.
class LimitApplier {
 public:
  virtual ~LimitApplier() = default;
  // Makes every running jail in `changes` enforce `after`, all or nothing:
  // on the first failure the jails already changed get `before` back and
  // that error is returned. Jails not running are skipped. Returns the
  // enforcements of the jails it applied.
  virtual absl::StatusOr<AppliedEnforcements> ApplyChanges(
      const std::vector<JailRulesChange>& changes) = 0;
};

// A draft of the rule set inside Mutate(): rctl_rule_add/remove semantics,
// copying only the groups it touches.
class RuleDraft {
 public:
  // rctl_rule_add: EINVAL if not fully specified, EOPNOTSUPP if the kernel
  // would refuse it (rctl::ValidateForAdd). A deny replaces every deny that
  // differs only in amount; any other rule an identical one.
  absl::Status Add(rctl::Rule rule);
  // rctl_rule_remove: removes every rule matching `filter`; ESRCH
  // (NotFound) when none matched.
  absl::StatusOr<int> Remove(const rctl::Rule& filter);

 private:
  friend class RuleDatabase;
  RuleDraft(const RuleSnapshot& base, uint64_t& next_seq)
      : base_(base), next_seq_(next_seq) {}
  RuleGroup& Touch(const std::string& jail);

  const RuleSnapshot& base_;
  uint64_t& next_seq_;
  std::map<std::string, RuleGroup> touched_;  // "" = non-jail subjects
};

// Whether a Mutate is a runtime change to remember across restarts.
enum class Durability {
  kRecorded,   // the record is brought up to date and written before return
  kTransient,  // not recorded (one-shot `run` jails, gone with the daemon)
};

// How ApplyPolicy treats runtime removals of policy rules.
enum class PolicyMode {
  kStartUp,  // kept: the rules in force are those before the restart
  kReload,   // dropped: `apply` and SIGHUP put removed policy rules back
};

// What ApplyPolicy would change in the rules in force.
struct RulePlan {
  std::vector<rctl::Rule> to_remove;
  std::vector<rctl::Rule> to_add;
  bool empty() const { return to_remove.empty() && to_add.empty(); }
};

class RuleDatabase {
 public:
  // `describe` says what the backend makes of a rule without a running jail
  // (LimitEnforcer::Describe); `deny_is_sampled` whether a deny is enforced
  // by sampling (HostBackend::DenyIsSampled). Both called once per rule as
  // it enters the database, and again for a jail's rules when it stops.
  RuleDatabase(std::function<platform::Enforcement(const rctl::Rule&)> describe,
               std::function<bool(const rctl::Rule&)> deny_is_sampled);

  // Set once, before the first Mutate (nullptr: no jail runs).
  void SetApplier(LimitApplier* applier) { applier_ = applier; }

  // Runs `edit` on a draft; if it succeeds and changed anything, applies
  // the changed jails' rules (LimitApplier) and publishes a new snapshot.
  // Any error — from `edit` or from the backend — changes nothing and is
  // returned. Cost: the touched groups' rules, not the whole database.
  // With kRecorded (and a record opened), the runtime record of the
  // touched groups is recomputed against the policy's rules and written
  // durably before return; a write error puts the backend back and is
  // returned, nothing changed.
  absl::Status Mutate(absl::FunctionRef<absl::Status(RuleDraft&)> edit,
                      Durability durability = Durability::kRecorded)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Loads the runtime record from `path` (absent = empty; a stale
  // `<path>.tmp` is removed) and writes it there from now on. Call once,
  // before the first ApplyPolicy. Errors: LoadRuntimeRules's (DataLoss for
  // a corrupt record).
  absl::Status OpenRecord(std::string path) ABSL_LOCKS_EXCLUDED(mu_);

  // Makes the rules in force the policy's `policy_rules` (kernel form,
  // fully specified) minus, with kStartUp, the recorded runtime removals,
  // plus the recorded runtime additions except those of `forget_jails`
  // (jails the policy drops). One all-or-nothing change as Mutate; the
  // record is rewritten against the new policy. Errors: as Mutate (the
  // backend's refusal, the record's write); nothing changed then.
  absl::Status ApplyPolicy(const std::vector<rctl::Rule>& policy_rules, PolicyMode mode,
                           const std::set<std::string>& forget_jails = {})
      ABSL_LOCKS_EXCLUDED(mu_);
  // What ApplyPolicy would change, without changing anything: a policy
  // rule removed at runtime shows in to_add (drift) with kReload.
  RulePlan PlanPolicy(const std::vector<rctl::Rule>& policy_rules, PolicyMode mode,
                      const std::set<std::string>& forget_jails = {}) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // The jail is gone (destroyed, or its creation rolled back): its rules
  // become the policy's for it again — runtime additions dropped, runtime
  // removals undone — and the record forgets it. Errors: as Mutate.
  absl::Status ForgetRuntimeRules(const std::string& jail) ABSL_LOCKS_EXCLUDED(mu_);

  // The runtime record as it stands (what the file holds), grouped by jail
  // in name order, non-jail subjects first.
  RuntimeRules runtime_rules() const ABSL_LOCKS_EXCLUDED(mu_);

  // A jail starts (or is adopted): `apply` gets its current rules and
  // returns what the backend applied; that is published for the jail's
  // rules. An error from `apply` is returned and nothing published.
  absl::Status AttachJail(
      const std::string& jail,
      absl::FunctionRef<absl::StatusOr<std::vector<platform::Enforcement>>(
          const std::vector<rctl::Rule>&)>
          apply) ABSL_LOCKS_EXCLUDED(mu_);
  // The jail stopped: its rules are described again (published only if
  // that differs from what was applied).
  void DetachJail(const std::string& jail) ABSL_LOCKS_EXCLUDED(mu_);

  // The latest snapshot. Never waits on a change in progress.
  std::shared_ptr<const RuleSnapshot> Current() const { return current_.Load(); }

 private:
  using RulesByGroup = std::map<std::string, std::vector<rctl::Rule>>;

  RuleEntry Entry(rctl::Rule rule, uint64_t seq) const;
  // The rules in force after ApplyPolicy, by group.
  RulesByGroup TargetLocked(const RulesByGroup& policy, PolicyMode mode,
                            const std::set<std::string>& forget_jails) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Removes from and adds to `draft` so the groups in `target` (and, with
  // `all`, every other group: emptied) hold exactly its rules.
  absl::Status ReconcileLocked(RuleDraft& draft, const RulesByGroup& target, bool all,
                               RulePlan* plan) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Mutate's second half: describe, apply, record (unless `record` is
  // null), publish. `policy`: the policy the record is computed against;
  // `all_groups`: recompute the record of every group, not only touched.
  absl::Status CommitLocked(RuleDraft& draft, uint64_t seq, const RulesByGroup* policy,
                            bool all_groups) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  RuntimeRules FlatRecordLocked(const std::map<std::string, RuntimeRules>& record) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  void PublishLocked(std::shared_ptr<const RuleSnapshot> next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::function<platform::Enforcement(const rctl::Rule&)> describe_;
  const std::function<bool(const rctl::Rule&)> deny_is_sampled_;
  LimitApplier* applier_ = nullptr;

  mutable absl::Mutex mu_;  // serializes changes
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  std::shared_ptr<const RuleSnapshot> base_ ABSL_GUARDED_BY(mu_);
  racct::SharedSlot<const RuleSnapshot> current_;
  RulesByGroup policy_ ABSL_GUARDED_BY(mu_);
  // Group → its runtime additions and removals (non-empty ones only).
  std::map<std::string, RuntimeRules> record_ ABSL_GUARDED_BY(mu_);
  std::string record_path_ ABSL_GUARDED_BY(mu_);  // "" = not written
};

}  // namespace jailwarden::service
