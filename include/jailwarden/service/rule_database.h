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
// Lock order: RuleDatabase before the applier's lock. Thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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
  absl::Status Mutate(absl::FunctionRef<absl::Status(RuleDraft&)> edit)
      ABSL_LOCKS_EXCLUDED(mu_);

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
  RuleEntry Entry(rctl::Rule rule, uint64_t seq) const;
  void PublishLocked(std::shared_ptr<const RuleSnapshot> next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::function<platform::Enforcement(const rctl::Rule&)> describe_;
  const std::function<bool(const rctl::Rule&)> deny_is_sampled_;
  LimitApplier* applier_ = nullptr;

  absl::Mutex mu_;  // serializes changes
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  std::shared_ptr<const RuleSnapshot> base_ ABSL_GUARDED_BY(mu_);
  racct::SharedSlot<const RuleSnapshot> current_;
};

}  // namespace jailwarden::service
