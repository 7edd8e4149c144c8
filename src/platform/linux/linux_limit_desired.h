#pragma once

// The Linux enforcer's desired state: what one jail's rules ask of the
// kernel (cgroup knobs, IPC sysctls, devpts, rlimits), the lowest amount
// winning where several rules name the same limit. Pure (no kernel
// access): built by LinuxDesiredLimits from the rules and their
// Enforcements, written by the enforcer's writers. Thread-compatible.

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "jailwarden/platform/limit_enforcer.h"
#include "jailwarden/rctl/rule.h"
#include "platform/linux/cgroup_knob_writer.h"
#include "platform/linux/resource_map.h"

namespace jailwarden::platform {

struct LinuxDesired {
  // One amount per LinuxLimitSlot (kNoLinuxLimit: none wanted).
  std::array<int64_t, kLinuxLimitSlotCount> slots;
  std::map<int, int64_t> all;  // RLIMIT_* -> value, every process
  std::map<int64_t, std::map<int, int64_t>> by_pid, by_uid;

  LinuxDesired() { slots.fill(kNoLinuxLimit); }
  int64_t& at(LinuxLimitSlot s) { return slots[static_cast<std::size_t>(s)]; }
  int64_t at(LinuxLimitSlot s) const { return slots[static_cast<std::size_t>(s)]; }
  bool has(LinuxLimitSlot s) const { return at(s) != kNoLinuxLimit; }
  // The cgroup part, for a CgroupKnobWriter.
  CgroupLimits cgroup() const;
};

// Lowers `slot` to `value` (sets it when unset).
void MinInto(int64_t& slot, int64_t value);
// Lowers m[resource] to `value` (sets it when absent).
void MinRlimit(std::map<int, int64_t>& m, int resource, int64_t value);

// Apply's result before any kernel write.
struct LinuxDesiredResult {
  LinuxDesired desired;
  std::vector<Enforcement> enforcements;  // one per rule, in order
  // Deny rules found sampled only because of the jail's other rules (v1
  // swapuse without a memoryuse deny).
  std::vector<rctl::Rule> sampled_by_context;
};

// What `rules` (one jail's) ask of the kernel on a host whose cgroup
// knobs `writer` writes; each rule described by DescribeLinuxEnforcement.
LinuxDesiredResult LinuxDesiredLimits(const std::vector<rctl::Rule>& rules,
                                      const CgroupKnobWriter& writer);

}  // namespace jailwarden::platform
