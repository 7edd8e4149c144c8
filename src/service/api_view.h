#pragma once

// What the API and /metrics show of the service's rooms: pure functions
// over published copies (jail records, the policy, a RuleSnapshot), so a
// reader never waits on a jail starting or a rule change.

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "jailwarden/api/daemon.h"
#include "jailwarden/jail/manager.h"
#include "jailwarden/metrics/collector.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/service/oci_watcher.h"
#include "jailwarden/service/rule_snapshot.h"

namespace jailwarden::service {

api::RuleInfo RuleInfoOf(const platform::Enforcement& e);

// One jail as GET /v1/jails shows it, with its limits from `rules`.
api::JailInfo JailInfoOf(const jail::JailRecord& rec, const policy::Policy& policy,
                         const RuleSnapshot& rules);

// An OCI container observed read-only (oci_watcher.h) as GET /v1/jails
// shows it: its id as the name, the runtime's status as the state, no JID,
// its bundle's root, its process as init_pid, the rules the runtime
// applied as its limits, and the `oci` marker (root, bundle).
api::JailInfo ContainerInfoOf(const OciWatcher::Adopted& a);

// Issue 17: the main process of a running jail with `command:`, from its
// supervisor (JailRuntime::MainStatus, bounded); nullopt for other jails
// or when the supervisor does not answer (logged). Thread-safe.
std::optional<platform::MainProcessStatus> MainOf(platform::JailRuntime& runtime,
                                                  const jail::JailRecord& rec);

// Issue 13: what isolates a running jail (JailRuntime::Isolation); nullopt
// for a jail that does not run or a backend that does not report it.
// Thread-safe.
std::optional<platform::IsolationStatus> IsolationOf(platform::JailRuntime& runtime,
                                                     const jail::JailRecord& rec);

// The rules matching `filter_text` (rctl filter syntax) with what the
// backend makes of each, in rctl_get_rules order. EINVAL-style errors from
// the filter's parser.
absl::StatusOr<std::vector<api::RuleInfo>> DescribeRules(
    const RuleSnapshot& rules, std::string_view filter_text,
    const rctl::ProcessExists& process_exists);

// Every configured jail for the jail state families of /metrics, with its
// policy drift: the policy's rules for it (`policy_rules`, Policy's
// AllRules()) that `rules` does not hold. A deny the jail holds with another
// amount (a runtime deny replaced it, and `apply` keeps runtime additions)
// is not drift.
std::vector<metrics::JailStatus> JailStatuses(const std::vector<jail::JailRecord>& records,
                                              const policy::Policy& policy,
                                              const std::vector<rctl::Rule>& policy_rules,
                                              const RuleSnapshot& rules);

// The policy's rules for `jail` that are not in force, as JailStatuses
// counts them.
std::vector<rctl::Rule> PolicyDrift(std::string_view jail,
                                    const std::vector<rctl::Rule>& policy_rules,
                                    const RuleSnapshot& rules);

}  // namespace jailwarden::service
