#pragma once

// LinuxLimitEnforcer's state and its kernel writers (private to the
// enforcer: linux_limit_enforcer.cc holds the public methods,
// linux_limit_writers.cc the writers). Guarded by Impl::mu.

#include <unistd.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/platform/linux/linux_limit_enforcer.h"
#include "platform/linux/cgroup_knob_writer.h"
#include "platform/linux/held_knob_files.h"
#include "platform/linux/ipc_limits.h"
#include "platform/linux/linux_jail_paths.h"
#include "platform/linux/linux_limit_desired.h"
#include "platform/linux/sampled_deny.h"
#include "platform/linux/sysvipc.h"

namespace jailwarden::platform {

struct LinuxLimitEnforcer::Impl {
  struct Jail {
    LinuxJailPaths paths;
    // The knobs Check reads, cgroup.procs and the init's mountinfo.
    HeldKnobFiles held;
    int ipc_ns = -1;
    bool have_ipc_baseline = false;
    IpcSysctls ipc_baseline, ipc_applied;
    int64_t devpts_baseline = kNoLinuxLimit, devpts_applied = kNoLinuxLimit;
    std::map<int, LinuxRlimit> rlimit_baseline;
    std::set<int> rlimits_touched;
    std::set<int64_t> seen_pids;  // got the current rlimits
    LinuxDesired applied;
    // Deny rules Apply found sampled only because of the jail's other
    // rules (v1 swapuse without a memoryuse deny).
    std::vector<rctl::Rule> sampled_by_context;
    // Soft rlimits lowered for sampled denies at or over (sampled_deny.h).
    platform::SampledDenyClamps clamps;
    ~Jail() {
      if (ipc_ns >= 0) {
        close(ipc_ns);
      }
    }
  };

  LinuxLimitEnforcerOptions options;
  // Chosen once in Create from the host's cgroup version.
  std::unique_ptr<CgroupKnobWriter> cgroup_writer;
  std::unique_ptr<ProcessLimits> process_limits = std::make_unique<ProcfsProcessLimits>();
  std::unique_ptr<IpcNamespaceWorker> ipc;
  mutable absl::Mutex mu;
  std::map<std::string, std::unique_ptr<Jail>, std::less<>> jails ABSL_GUARDED_BY(mu);

  // Each makes the kernel say `d` for `j` (and records what it wrote in
  // `j` where the writer keeps its own baseline). The errno's status or
  // FailedPrecondition (a wanted mechanism is missing).
  absl::Status WriteCgroups(Jail& j, const LinuxDesired& d);
  absl::Status WriteIpc(Jail& j, const LinuxDesired& d);
  absl::Status WriteDevpts(Jail& j, const LinuxDesired& d);
  // The rlimits of the jail's processes (all, or `only_new`: those not
  // seen since the last full pass), never its pid 1.
  absl::Status WriteRlimits(Jail& j, const LinuxDesired& d, bool only_new);
  absl::Status WriteAll(Jail& j, const LinuxDesired& d) {
    JW_RETURN_IF_ERROR(WriteCgroups(j, d));
    JW_RETURN_IF_ERROR(WriteIpc(j, d));
    JW_RETURN_IF_ERROR(WriteDevpts(j, d));
    return WriteRlimits(j, d, false);
  }
  // Reads the IPC sysctls of the jail's namespace when Apply limited one,
  // appends each that differs from what was written, and writes them back.
  absl::Status CheckIpc(Jail& j, std::vector<LimitDrift>* drifted);
  // The block devices the I/O throttles apply to.
  absl::StatusOr<std::vector<std::string>> Devices(const Jail& j) const;
};

// The pids in the jail's own cgroup (not its descendants').
absl::StatusOr<std::set<int64_t>> LinuxJailPids(const LinuxJailPaths& paths);

}  // namespace jailwarden::platform
