#pragma once

// Kernel-level enforcement of RCTL rules, installed once per rule or jail
// change, never per tick (../shared/design/architecture.md §2).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/platform/usage_reader.h"
#include "jailwarden/rctl/rule.h"

namespace jailwarden::platform {

// How faithfully a backend enforces a rule (../shared/reference/
// linux-mapping.md §1): the kernel does exactly what RCTL would; something
// close (the detail says what differs); only the sampler acts; or not at all
// (the detail says why).
enum class Fidelity : uint8_t { kExact, kApproximate, kSampled, kUnsupported };

std::string_view FidelityName(Fidelity f);  // "exact", "approximate", ...

struct Enforcement {
  rctl::Rule rule;
  Fidelity fidelity = Fidelity::kExact;
  std::string mechanism;  // "pids.max", "RLIMIT_AS", "rctl_add_rule", ...
  std::string detail;     // what differs, for approximate/unsupported
  friend bool operator==(const Enforcement&, const Enforcement&) = default;
};

// A deny rule this backend enforces only by sampling (Fidelity::kSampled)
// whose sampled usage is at or over its amount (engine::DecisionKind::
// kDenyAtOrOver): where FreeBSD's kernel would refuse the next charge.
struct SampledDeny {
  rctl::Rule rule;
  std::string jail;  // the jail whose processes the deny reaches
  // -1: every process of `jail` itself (a jail:<J>:...:deny rule with per
  // jail; not its descendants', which have their own target); otherwise
  // that one process (process/user subjects, per user), reached only while
  // it is in `jail`.
  int64_t pid = -1;
  friend bool operator==(const SampledDeny&, const SampledDeny&) = default;
};

// One kernel-side limit found different from what the enforcer set
// (LimitEnforcer::CheckAndRepair): a jail's root lifted it from inside, or
// something on the host rewrote it.
struct LimitDrift {
  std::string resource;   // rctl resource name ("memoryuse", "nthr", ...)
  std::string mechanism;  // the knob: a cgroup file's path, a sysctl name
  std::string found;      // what the kernel said, trimmed (at most 64 bytes)
  std::string want;       // what the enforcer had set
  bool repaired = false;  // the enforcer wrote its value back
  friend bool operator==(const LimitDrift&, const LimitDrift&) = default;
};

class LimitEnforcer {
 public:
  virtual ~LimitEnforcer() = default;

  // Makes the kernel enforce exactly `rules` (the rules that apply to this
  // jail, already validated) on a running jail, replacing what was applied
  // before; limits no longer in `rules` are lifted. Returns one Enforcement
  // per rule. All-or-nothing where the kernel allows it; on error what was
  // applied before stays.
  virtual absl::StatusOr<std::vector<Enforcement>> Apply(
      const JailRef& jail, const std::vector<rctl::Rule>& rules) = 0;

  // Check and repair: reads back every kernel-side limit the last Apply
  // set for `jail` that can be read back (one read per knob), and writes
  // back each one found different. Returns the drifted limits (empty when
  // all hold); NotFound for an unregistered jail; the errno's status when a
  // knob cannot be read or rewritten (drift found before that is lost to
  // the caller: the next call finds it again). Call off the sampler thread,
  // about once per slow pass. The default (a kernel whose limits a jail
  // cannot touch, or a backend that cannot read them back) finds nothing.
  virtual absl::StatusOr<std::vector<LimitDrift>> CheckAndRepair(const JailRef& jail) {
    (void)jail;
    return std::vector<LimitDrift>{};
  }

  // What Apply would report for `rule`, without touching the kernel.
  virtual Enforcement Describe(const rctl::Rule& rule) const = 0;

  // Level-triggered: `active` is every sampled deny at or over now, over
  // all jails. The backend makes the next charge of each one's resource
  // fail where it has a mechanism, and undoes that for every deny no
  // longer listed (an empty list undoes everything: call it when stopping).
  // Call it off the sampler thread (it may do a syscall per process). The
  // default does nothing: a kernel that enforces deny rules itself
  // (FreeBSD's rctl) never reports a deny as sampled.
  virtual absl::Status SetSampledDenies(const std::vector<SampledDeny>& active) {
    (void)active;
    return absl::OkStatus();
  }
};

}  // namespace jailwarden::platform
