#pragma once

// The exported name of each RACCT resource's usage family: jail_exporter's
// names (../shared/reference/peers.md §1.2), which jailwarden keeps so that
// existing dashboards and rules keep working. dashboards/README.md lists
// every family with its kernel source per backend.

#include <string_view>

#include "jailwarden/rctl/resource.h"

namespace jailwarden::metrics {

struct UsageFamily {
  std::string_view name;   // "jail_memoryuse_bytes"
  std::string_view type;   // "gauge" or "counter"
  std::string_view help;   // HELP text
  // Kernel values are 10^6 times the exported value (cputime, wallclock in
  // µs -> seconds; pcpu in percent × 10^6 -> percent).
  bool in_millions = false;
};

// Pure; the switch has no default so a new resource must be named here.
const UsageFamily& UsageFamilyOf(rctl::Resource resource);

}  // namespace jailwarden::metrics
