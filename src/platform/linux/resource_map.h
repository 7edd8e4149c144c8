#pragma once

// The one Linux resource map (issue 12; ../shared/reference/
// linux-mapping.md §1): for each of the 25 RCTL resources, in enum order,
// the Linux facts the enforcer, the rlimit code and the sampled-deny clamps
// look up. No other file switches over rctl::Resource for Linux knowledge.
// Constant data: thread-safe.

#include <sys/resource.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "jailwarden/platform/limit_enforcer.h"
#include "jailwarden/rctl/resource.h"

namespace jailwarden::platform {

// Which mechanism family enforces a deny/throttle rule of the resource
// jail-wide (or per process, for kRlimit). Describe and the desired state
// dispatch on it.
enum class LinuxMechanism : uint8_t {
  kSamplerOnly,  // cputime, wallclock: no kernel limit, cannot be denied
  kCgroup,       // a cgroup knob (memory, pids, cpu, blkio/io)
  kRlimit,       // a per-process rlimit (datasize, stacksize, ...)
  kDevpts,       // the jail's devpts max= (pseudoterminals)
  kIpcSysctl,    // a SysV IPC sysctl of the jail's IPC namespace
};

// Where a jail-wide amount goes in the enforcer's desired state: one value
// per slot, the lowest amount of all rules naming the slot wins.
enum class LinuxLimitSlot : uint8_t {
  kNone,
  kMemory,      // memory.limit_in_bytes / memory.max, bytes
  kSwap,        // memsw (v1: memory + swap) / memory.swap.max, bytes
  kPids,        // pids.max, tasks
  kPcpu,        // cfs quota / cpu.max, percent of one CPU × 10^6
  kIoReadBps,   // the four I/O throttles, in this order (CgroupLimits::io)
  kIoWriteBps,
  kIoReadIops,
  kIoWriteIops,
  kDevpts,      // devpts max=, pseudoterminals
  kMsgmni,      // kernel.msgmni, queues
  kMsgmnb,      // kernel.msgmnb, bytes and messages per queue
  kSemmns,      // kernel.sem field 2, semaphores
  kSemopm,      // kernel.sem field 3, operations per semop (any per)
  kShmmni,      // kernel.shmmni, segments
  kShmall,      // kernel.shmall, bytes here (pages when written)
};
inline constexpr std::size_t kLinuxLimitSlotCount = 16;

// What the sampled-deny clamp reads to find the soft limit at which a
// process's next charge fails (sampled_deny.h).
enum class LinuxClampSource : uint8_t {
  kNone,       // no clamp: nothing per process an rlimit could stop
  kLowestFreeFd,  // /proc/<pid>/fd
  kVmSize,     // /proc/<pid>/status VmSize
  kVmData,
  kVmStk,
  kVmLck,
};

inline constexpr int kNoRlimit = -1;

// What the enforcer does with a row's rlimit.
enum class LinuxRlimitUse : uint8_t {
  kNone,        // not set for RCTL rules (RLIMIT_CPU: cputime is sampled;
                // it is only part of a jail's recorded rlimit baseline)
  kPerProcess,  // a per-process deny sets it on each process of the jail
                // (and a jail-wide one bounds each process by it)
  kPerUser,     // a per-user deny sets it (RLIMIT_NPROC counts per uid)
};

struct LinuxResourceRow {
  rctl::Resource resource;
  LinuxMechanism mechanism;
  // RLIMIT_* that caps the resource per process, or kNoRlimit.
  int rlimit = kNoRlimit;
  LinuxRlimitUse rlimit_use = LinuxRlimitUse::kNone;
  // cgroup v1: controller (hierarchy key) and file; v2: file, and the key
  // in it for io.max. Empty when no cgroup knob applies.
  std::string_view cgroup_v1_controller;
  std::string_view cgroup_v1_knob;
  std::string_view cgroup_v2_knob;
  std::string_view cgroup_v2_key;
  // The IPC namespace sysctl, as Describe names it ("kernel.sem SEMMNS").
  std::string_view sysctl;
  LinuxLimitSlot slot = LinuxLimitSlot::kNone;
  // The mechanism applies to a rule of any per (nsemop: a per-call limit).
  bool any_per = false;
  // Only throttle rules are enforced (the I/O rates; FreeBSD refuses a
  // deny on them).
  bool throttle_only = false;
  // Fidelity of the kernel mechanism (kCgroup, kDevpts, kIpcSysctl:
  // jail-wide; kRlimit: per process) on cgroup v1 and v2 hosts.
  Fidelity fidelity_v1 = Fidelity::kSampled;
  Fidelity fidelity_v2 = Fidelity::kSampled;
  // What Describe says about that mechanism (empty: nothing to add). The
  // v2 text matters for kCgroup rows only.
  std::string_view detail_v1;
  std::string_view detail_v2;
  // What the rlimit does outside the mechanism's own scope: per user
  // (maxproc), or jail-wide for a resource without a clamp (coredumpsize).
  std::string_view rlimit_detail;
  // For a kCgroup/kDevpts/kIpcSysctl rule that is not jail-wide: what the
  // sampler compares instead, or why nothing is enforced.
  std::string_view not_jail_detail;
  // Sampled-deny clamp: the source, the errno FreeBSD gives for the
  // refused charge (0: SIGSEGV for stacksize, or no clamp) and how the
  // charge fails, for Describe.
  LinuxClampSource clamp = LinuxClampSource::kNone;
  int clamp_errno = 0;
  std::string_view clamp_charge;
};

// The map, indexed by rctl::Index(resource).
const std::array<LinuxResourceRow, rctl::kResourceCount>& LinuxResourceMap();

// The row of `r`.
const LinuxResourceRow& LinuxResource(rctl::Resource r);

// The row's rlimit, nullopt for kNoRlimit.
std::optional<int> LinuxRlimitOf(rctl::Resource r);

}  // namespace jailwarden::platform
