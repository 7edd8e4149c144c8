#pragma once

// The Linux LimitEnforcer (issue #5; ../shared/reference/linux-mapping.md
// §1): each RCTL rule becomes the kernel mechanism the mapping names and
// reports its fidelity (exact, approximate and how, enforced by sampling,
// unsupported and why):
//   memoryuse  memory.limit_in_bytes / memory.max        approximate
//   swapuse    memory.memsw.limit_in_bytes / memory.swap.max
//   nthr       pids.max (exact); maxproc pids.max (approximate: threads)
//   pcpu       cpu.cfs_quota_us / cpu.max
//   *bps *iops blkio.throttle.*_device / io.max on the jail's root disk
//   per-process datasize stacksize coredumpsize memorylocked openfiles
//              vmemoryuse: rlimits, on live processes (prlimit) and at exec
//   SysV       kernel.msgmni/msgmnb/sem/shmmni/shmall in the jail's IPC ns
//   pseudoterminals  devpts max= in the jail's mount namespace
//   jail-wide sums of per-process resources, cputime, wallclock: sampled;
//              a sampled deny of openfiles, vmemoryuse, datasize,
//              stacksize or memorylocked at or over its amount lowers the
//              soft rlimit of each reached process to its current use
//              (SetSampledDenies), so its next charge fails
//   loginclass subjects and per: unsupported
// Rule changes take effect on running jails at the next Apply; a limit no
// longer in the rules is lifted (cgroup knobs to unlimited, sysctls,
// devpts and rlimits back to the values recorded when the jail was added).
//
// Thread-safety: all methods are thread-safe (one internal mutex); Apply
// does syscalls and forks, so call it from the daemon's control thread,
// never from the sampler tick.

#include <sys/resource.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/platform/jail_runtime.h"
#include "jailwarden/platform/limit_enforcer.h"
#include "jailwarden/rctl/rule.h"

namespace jailwarden::platform {

// One rlimit for a process (RLIMIT_* resource, soft and hard values).
struct LinuxRlimit {
  int resource = 0;
  rlim_t soft = RLIM_INFINITY;
  rlim_t hard = RLIM_INFINITY;
  friend bool operator==(const LinuxRlimit&, const LinuxRlimit&) = default;
};

// How `rule` is enforced on Linux, without touching the kernel; `cgroup_v2`
// selects the v2 mechanisms. Pure: read from the one Linux resource map
// (src/platform/linux/resource_map.h). Thread-safe.
Enforcement DescribeLinuxEnforcement(const rctl::Rule& rule, bool cgroup_v2);

struct LinuxLimitEnforcerOptions {
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string cgroup_version;  // "v1" / "v2"; "" = detect from cgroup_root
  // Block devices ("MAJ:MIN") the I/O throttles apply to; empty = the
  // whole disk holding the jail's root (or its overlay upper layer).
  std::vector<std::string> block_devices;
};

class LinuxLimitEnforcer : public LimitEnforcer {
 public:
  static absl::StatusOr<std::unique_ptr<LinuxLimitEnforcer>> Create(
      LinuxLimitEnforcerOptions options = {});
  ~LinuxLimitEnforcer() override;

  // Registers the jail `instance.ref.name` and records its baseline (IPC
  // sysctls of its namespace, devpts max, its init's rlimits) to restore
  // when limits are lifted. InvalidArgument without cgroups in
  // backend_state.
  absl::Status AddJail(const JailInstance& instance);
  void RemoveJail(std::string_view name);

  // LimitEnforcer. Apply: NotFound for an unregistered jail; on a kernel
  // error the previous limits are re-applied (best effort) and the error
  // returned. Unsupported rules do not fail Apply: their Enforcement says
  // kUnsupported and why.
  absl::StatusOr<std::vector<Enforcement>> Apply(
      const JailRef& jail, const std::vector<rctl::Rule>& rules) override;
  Enforcement Describe(const rctl::Rule& rule) const override;

  // For engine::EngineOptions::deny_is_sampled: true for a deny rule the
  // kernel cannot enforce here, so the sampler's decision stands for it.
  bool DenyIsSampled(const rctl::Rule& rule) const;

  // The rlimits a process started in `jail` now must get before exec
  // (apply with setrlimit in the child). Empty for an unknown jail.
  std::vector<LinuxRlimit> ExecRlimits(std::string_view jail) const;

  // Applies the current per-process rlimits to the jail's processes that
  // appeared since the last Apply/Reconcile (call at the slow-tier
  // interval). NotFound for an unknown jail.
  absl::Status Reconcile(std::string_view jail);

  // LimitEnforcer: reads back the jail's cgroup knobs (CgroupKnobWriter::
  // Check), its devpts max= and the IPC sysctls of its namespace where
  // Apply limited them, and writes back what drifted (all cgroup knobs
  // again when one drifted). Per-process rlimits are not read back: a
  // jail's root cannot raise a hard rlimit without CAP_SYS_RESOURCE, and
  // Reconcile reaches new processes. The cost is one read per limited
  // knob (plus one round trip to the IPC namespace worker when an IPC
  // sysctl is limited).
  absl::StatusOr<std::vector<LimitDrift>> CheckAndRepair(const JailRef& jail) override;

  // LimitEnforcer: clamps soft rlimits for the sampled denies of
  // openfiles (RLIMIT_NOFILE at the lowest free descriptor), vmemoryuse
  // (RLIMIT_AS at VmSize), datasize (RLIMIT_DATA at VmData), stacksize
  // (RLIMIT_STACK at VmStk) and memorylocked (RLIMIT_MEMLOCK at VmLck) on
  // the processes of each registered jail the deny reaches (never the
  // jail's pid 1); restores the saved soft limits of clamps no longer
  // asked for. Other resources have no mechanism and are ignored. Reads
  // /proc and calls prlimit once per process and resource: call it from a
  // worker, not the sampler. Returns the first error after doing all.
  absl::Status SetSampledDenies(const std::vector<SampledDeny>& active) override;
  // One jail's clamps now (tests, debugging).
  struct ClampInfo {
    int64_t pid = 0;
    int resource = 0;                   // RLIMIT_*
    rlim_t soft = RLIM_INFINITY;        // the clamped soft limit
    rlim_t saved_soft = RLIM_INFINITY;  // restored when the clamp goes
  };
  std::vector<ClampInfo> SampledDenyClamps(std::string_view jail) const;

  std::string_view cgroup_version() const;

 private:
  struct Impl;
  explicit LinuxLimitEnforcer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jailwarden::platform
