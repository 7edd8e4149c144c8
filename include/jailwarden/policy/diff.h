#pragma once

// What changes when a running policy is replaced by a new one (SIGHUP,
// `jailwarden apply`). Pure: the service applies the difference; this only
// says what it is. Thread-safe.

#include <string>
#include <vector>

#include "jailwarden/policy/policy.h"
#include "jailwarden/rctl/rule.h"

namespace jailwarden::policy {

struct PolicyDiff {
  // Jails only in `next`, in next's StartOrder (dependencies first).
  std::vector<std::string> jails_to_add;
  // Jails only in `old`, in reverse of old's StartOrder (dependents first).
  std::vector<std::string> jails_to_remove;
  // Jails in both whose definition (platform::JailSpec) changed: stop with
  // the old definition, start with the new one. next's StartOrder. Their
  // limits may have changed too.
  std::vector<std::string> jails_to_restart;
  // Jails in both with the same definition but different limits: apply the
  // new limits without a restart. next's file order.
  std::vector<std::string> jails_with_only_limits_changed;
  // Jails in both whose `healthcheck:` changed (added, removed or any
  // field), next's file order, whether or not they also restart; then, as
  // "template NAME", templates in both whose resolved healthcheck changed
  // (what jails an API create made from them are checked with). Nothing
  // restarts for it: the daemon's checker reads the new policy.
  std::vector<std::string> healthchecks_changed;

  // The complete rule database (Policy::AllRules) differs. The service
  // swaps it in one step.
  bool rules_changed = false;
  // For backends that change the kernel rule by rule (FreeBSD rctl(2)):
  // rules of next.AllRules() that old lacks, and rules of old.AllRules()
  // that next lacks. A deny whose amount changed appears in rules_to_add
  // only: rctl_rule_add replaces the old amount itself, so adding first
  // and then removing never leaves a jail unlimited and never hits ESRCH.
  std::vector<rctl::Rule> rules_to_add;
  std::vector<rctl::Rule> rules_to_remove;

  // Names of `server:` keys whose value changed ("sample_interval",
  // "throttle", ...), in docs/policy.md order. Whether a key can change
  // without a restart of the daemon is the service's decision.
  std::vector<std::string> server_changes;

  // True when applying the diff would do nothing.
  bool empty() const;
};

// The difference from `old` to `next`. Both must be loaded policies.
PolicyDiff Diff(const Policy& old, const Policy& next);

// One line per change, for logs and `jailwarden apply` output:
// "add jail db", "restart jail web", "limits jail cache", "healthcheck jail
// web", "healthcheck template svc", "rule +jail:...", "rule -...", "server
// sample_interval". "" when empty.
std::string DescribeDiff(const PolicyDiff& diff);

}  // namespace jailwarden::policy
