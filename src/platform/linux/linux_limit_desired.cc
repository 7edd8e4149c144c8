#include "platform/linux/linux_limit_desired.h"

#include "jailwarden/platform/linux/linux_limit_enforcer.h"

namespace jailwarden::platform {
namespace {

using rctl::Action;
using rctl::SubjectType;

constexpr std::size_t Slot(LinuxLimitSlot s) { return static_cast<std::size_t>(s); }

bool JailWide(const rctl::Rule& rule) {
  return rule.per == SubjectType::kJail && rule.subject == SubjectType::kJail;
}

// Where the kernel enforces `rule` (Describe said exact or approximate).
void AddKernelLimit(const rctl::Rule& rule, const LinuxResourceRow& row, LinuxDesired& d) {
  const int64_t a = rule.amount;
  if (row.any_per) {
    MinInto(d.at(row.slot), a);
  } else if (JailWide(rule)) {
    if (row.slot != LinuxLimitSlot::kNone) {
      MinInto(d.at(row.slot), a);
    } else if (row.rlimit_use == LinuxRlimitUse::kPerProcess) {
      // A jail-wide rule on an rlimit resource reaches the kernel only
      // where no clamp exists (coredumpsize): the rlimit on every process.
      MinRlimit(d.all, row.rlimit, a);
    }
  }
  if (rule.per == SubjectType::kProcess && row.rlimit_use == LinuxRlimitUse::kPerProcess) {
    if (rule.subject == SubjectType::kProcess) {
      MinRlimit(d.by_pid[rule.SubjectNumber().value_or(-1)], row.rlimit, a);
    } else if (rule.subject == SubjectType::kUser) {
      MinRlimit(d.by_uid[rule.SubjectNumber().value_or(-1)], row.rlimit, a);
    } else {
      MinRlimit(d.all, row.rlimit, a);
    }
  }
  if (rule.per == SubjectType::kUser && row.rlimit_use == LinuxRlimitUse::kPerUser) {
    if (rule.subject == SubjectType::kUser) {
      MinRlimit(d.by_uid[rule.SubjectNumber().value_or(-1)], row.rlimit, a);
    } else {
      MinRlimit(d.all, row.rlimit, a);
    }
  }
}

}  // namespace

void MinInto(int64_t& slot, int64_t value) {
  if (slot == kNoLinuxLimit || value < slot) {
    slot = value;
  }
}

void MinRlimit(std::map<int, int64_t>& m, int resource, int64_t value) {
  auto [it, inserted] = m.emplace(resource, value);
  if (!inserted && value < it->second) {
    it->second = value;
  }
}

CgroupLimits LinuxDesired::cgroup() const {
  CgroupLimits c;
  c.memory_bytes = at(LinuxLimitSlot::kMemory);
  c.swap_bytes = at(LinuxLimitSlot::kSwap);
  c.pids = at(LinuxLimitSlot::kPids);
  c.pcpu = at(LinuxLimitSlot::kPcpu);
  for (std::size_t i = 0; i < c.io.size(); ++i) {
    c.io[i] = slots[Slot(LinuxLimitSlot::kIoReadBps) + i];
  }
  return c;
}

LinuxDesiredResult LinuxDesiredLimits(const std::vector<rctl::Rule>& rules,
                                      const CgroupKnobWriter& writer) {
  LinuxDesiredResult out;
  LinuxDesired& d = out.desired;
  out.enforcements.reserve(rules.size());
  bool memory_deny = false;
  for (const rctl::Rule& rule : rules) {
    if (rule.resource.has_value() &&
        LinuxResource(*rule.resource).slot == LinuxLimitSlot::kMemory &&
        rule.action == Action::kDeny && JailWide(rule)) {
      memory_deny = true;
    }
  }
  for (const rctl::Rule& rule : rules) {
    Enforcement e = DescribeLinuxEnforcement(rule, writer.is_v2());
    const bool kernel = (rule.action == Action::kDeny || rule.action == Action::kThrottle) &&
                        e.fidelity != Fidelity::kUnsupported;
    const LinuxResourceRow* row =
        rule.resource.has_value() ? &LinuxResource(*rule.resource) : nullptr;
    if (kernel && row->slot == LinuxLimitSlot::kSwap && writer.swap_needs_memory_limit() &&
        rule.per == SubjectType::kJail && !memory_deny) {
      e.fidelity = Fidelity::kSampled;
      e.mechanism = "sampler";
      e.detail = "cgroup v1 can only cap memory+swap, and the jail has no memoryuse deny "
                 "rule: swapuse is compared by the sampler";
      out.sampled_by_context.push_back(rule);
    }
    if (kernel && e.fidelity != Fidelity::kSampled) {
      AddKernelLimit(rule, *row, d);
    }
    // A sampled jail-wide deny on a per-process resource: the rlimit is a
    // sound partial bound (one process cannot exceed the jail's sum).
    if (rule.action == Action::kDeny && e.fidelity == Fidelity::kSampled && row != nullptr &&
        row->rlimit_use == LinuxRlimitUse::kPerProcess && rule.subject == SubjectType::kJail) {
      MinRlimit(d.all, row->rlimit, rule.amount);
    }
    out.enforcements.push_back(std::move(e));
  }
  return out;
}

}  // namespace jailwarden::platform
