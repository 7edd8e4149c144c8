#pragma once

// Enforcement of sampled jail-wide denies on Linux (issue #5): while the
// sampler reads a jail's sum of a per-process resource at or over a deny
// amount, each of the jail's processes gets its SOFT rlimit of that
// resource lowered to what it uses now, so its next charge fails with the
// errno FreeBSD gives (openfiles: EMFILE; vmemoryuse, datasize,
// memorylocked: ENOMEM; stacksize: the growth fails, SIGSEGV). When the sum
// drops below the amount (or the rule goes, or the daemon stops) the soft
// limits saved at the first clamp come back. Only soft limits move, within
// the hard limit, so no CAP_SYS_RESOURCE is needed and nothing is lost.
//
// SampledDenyClamps is the pure bookkeeping (tested with a fake
// ProcessLimits); ProcfsProcessLimits is the real /proc + prlimit side.

#include <sys/resource.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/platform/limit_enforcer.h"
#include "jailwarden/platform/linux/linux_limit_enforcer.h"
#include "jailwarden/rctl/resource.h"

namespace jailwarden::platform {

// The rlimit whose soft limit stops the next charge of `r`: RLIMIT_NOFILE
// (openfiles), RLIMIT_AS (vmemoryuse), RLIMIT_DATA (datasize),
// RLIMIT_STACK (stacksize), RLIMIT_MEMLOCK (memorylocked); nullopt for
// every other resource (no per-process charge an rlimit could stop).
std::optional<int> SampledDenyRlimit(rctl::Resource r);

// The errno FreeBSD gives for a denied charge of `r` as the clamp
// reproduces it (EMFILE, ENOMEM; 0 for stacksize: SIGSEGV, no errno).
int SampledDenyErrno(rctl::Resource r);

// The lowest descriptor number not in `open_fds` (any order): the number
// the next open(2) would get, so RLIMIT_NOFILE at it makes that open fail
// with EMFILE.
int64_t LowestFreeFd(std::span<const int64_t> open_fds);

// (pid, RLIMIT_*) pairs.
using ClampKey = std::pair<int64_t, int>;

// The pairs `denies` ask to clamp in one jail whose processes are `pids`
// (its cgroup.procs now), leaving out `init_pid` (the jail's supervisor)
// and resources with no clamp. A deny with pid -1 reaches every process; a
// deny for one pid reaches it only if it is in `pids`.
std::set<ClampKey> WantedClamps(std::span<const SampledDeny> denies,
                                const std::set<int64_t>& pids, int64_t init_pid);

// What the clamps do to live processes. Errors: NotFound when the process
// is gone.
class ProcessLimits {
 public:
  virtual ~ProcessLimits() = default;
  virtual absl::StatusOr<LinuxRlimit> Get(int64_t pid, int resource) = 0;
  virtual absl::Status Set(int64_t pid, const LinuxRlimit& limit) = 0;
  // The soft limit at which the process's next charge of `resource` fails:
  // the lowest free descriptor for RLIMIT_NOFILE, VmSize/VmData/VmStk/VmLck
  // in bytes for RLIMIT_AS/DATA/STACK/MEMLOCK.
  virtual absl::StatusOr<uint64_t> ClampValue(int64_t pid, int resource) = 0;
};

// /proc/<pid>/fd and /proc/<pid>/status, prlimit(2).
class ProcfsProcessLimits final : public ProcessLimits {
 public:
  absl::StatusOr<LinuxRlimit> Get(int64_t pid, int resource) override;
  absl::Status Set(int64_t pid, const LinuxRlimit& limit) override;
  absl::StatusOr<uint64_t> ClampValue(int64_t pid, int resource) override;
};

// One jail's clamps. Not thread-safe (the enforcer's mutex guards it).
class SampledDenyClamps {
 public:
  struct Clamp {
    rlim_t saved_soft = RLIM_INFINITY;  // restored when the clamp goes
    rlim_t soft = RLIM_INFINITY;        // what the clamp set last
  };

  // Makes the clamped set exactly `want`, for a jail whose processes are
  // `present` now:
  // - a new pair: its soft limit is saved, then lowered to ClampValue
  //   (never above the hard limit or the saved soft limit);
  // - a pair already clamped: lowered again to the current ClampValue (a
  //   process that freed some may not take more while the jail is over),
  //   never raised above what was saved;
  // - a pair no longer wanted: the saved soft limit comes back (at most the
  //   current hard limit);
  // - pairs of processes no longer in `present` are forgotten untouched
  //   (the pid may be reused outside the jail).
  // A process that vanishes meanwhile (NotFound) is forgotten. Does every
  // pair, then returns the first other error.
  absl::Status Update(const std::set<ClampKey>& want, const std::set<int64_t>& present,
                      ProcessLimits& ops);

  // The enforcer is about to write `setting` on `pid` (rules changed, a new
  // process got the jail's rlimits): if that pair is clamped, the new soft
  // limit becomes the saved one and the clamp stays in force (the written
  // soft limit is at most the clamp).
  void AdjustWrite(int64_t pid, LinuxRlimit& setting);

  bool empty() const { return clamps_.empty(); }
  const std::map<ClampKey, Clamp>& clamps() const { return clamps_; }

 private:
  std::map<ClampKey, Clamp> clamps_;
};

}  // namespace jailwarden::platform
