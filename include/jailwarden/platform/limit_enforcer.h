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
