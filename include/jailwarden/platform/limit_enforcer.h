#pragma once

// Kernel-level enforcement of RCTL rules, installed once per rule or jail
// change, never per tick (../shared/design/architecture.md §2).

#include <string>
#include <vector>

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
};

}  // namespace jailwarden::platform
