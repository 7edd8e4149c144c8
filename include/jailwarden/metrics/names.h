#pragma once

// The exported name of each RACCT resource's usage family: jail_exporter's
// names (../shared/reference/peers.md §1.2), which jailwarden keeps so that
// existing dashboards and rules keep working. dashboards/README.md lists
// every family with its kernel source per backend.

#include <array>
#include <cstdint>
#include <string>
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

// The base unit of a resource's values once exported (kernel µs and
// percent x 10^6 already divided). Families that carry several resources
// (peaks, limits, amounts, headroom) are split by this unit so that each
// family has exactly one unit, named by its suffix (Prometheus naming
// conventions: base units in the name, counts unsuffixed).
enum class Unit : uint8_t {
  kCount,           // processes, files, threads, ...: no suffix
  kBytes,           // "_bytes"
  kSeconds,         // "_seconds"
  kPercent,         // "_percent" (pcpu: percent of one CPU, may exceed 100)
  kBytesPerSecond,  // "_bytes_per_second" (readbps, writebps)
  kOpsPerSecond,    // "_ops_per_second" (readiops, writeiops)
};
inline constexpr std::array<Unit, 6> kUnits = {Unit::kCount,   Unit::kBytes,
                                               Unit::kSeconds, Unit::kPercent,
                                               Unit::kBytesPerSecond, Unit::kOpsPerSecond};

// Pure; no default in the switch.
Unit UnitOf(rctl::Resource resource);

// "" for kCount, "_bytes", "_seconds", ... (with the leading underscore).
std::string_view UnitSuffix(Unit unit);

// OpenMetrics' "# UNIT" value: "" for kCount, else the suffix without its
// underscore.
std::string_view UnitName(Unit unit);

// A rule's identity for the `rule` label: its text (rctl::FormatRule,
// "jail:web:memoryuse:deny=1g/process") without "=amount", so a changed
// amount keeps the same series ("jail:web:memoryuse:deny/process"). The
// amount is the value of jailwarden_rule_amount*. Pure.
std::string RuleId(std::string_view rule_text);

// The enforcement mechanism as a small enum for the `mechanism` label, from
// platform::Enforcement::mechanism (free text such as "memory.max",
// "RLIMIT_AS", "sampler + RLIMIT_DATA", "kernel.msgmni", "devpts max=",
// "rctl_add_rule", "none"): one of "cgroup", "rlimit", "sampled", "sysctl",
// "devpts", "kernel" (FreeBSD's RCTL), "none", or "other" for text this
// table does not know. The text itself stays in the API. Pure.
std::string_view MechanismClass(std::string_view mechanism);

}  // namespace jailwarden::metrics
