#pragma once

// A jail's cgroups: one directory per hierarchy jailwarden uses, created
// below the cgroup jailwarden itself runs in (read from /proc/self/cgroup),
// never elsewhere. The host layout (hybrid v1+unified, v2-only, v1-only) is
// detected once and picks a row of a table (kLayouts in cgroup.cc); callers
// never branch on the version.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace jailwarden::platform {

class CgroupLayout {
 public:
  // Detects the layout under `cgroup_root` from the mounted file systems and
  // `proc_self_cgroup` (the text of /proc/self/cgroup). FailedPrecondition
  // if no hierarchy is usable.
  static absl::StatusOr<CgroupLayout> Detect(std::string_view cgroup_root,
                                             std::string_view proc_self_cgroup);

  // "hybrid", "v2" or "v1".
  std::string_view name() const { return name_; }

  // Creates <own>/<parent>/<jail> in every hierarchy. Returns the
  // backend_state entries ("cgroup.<key>" -> absolute directory). A
  // directory already there (left by a crash) is reused when empty.
  absl::StatusOr<std::map<std::string, std::string>> Create(
      std::string_view parent, std::string_view jail) const;

  // The cgroup.procs files a new member must be written to, in order.
  static std::vector<std::string> ProcsFiles(
      const std::map<std::string, std::string>& backend_state);

  // The directory whose cgroup.procs lists every process of the jail.
  static std::string MembershipDir(const std::map<std::string, std::string>& backend_state);

  // Kills every process in the jail's cgroups (v2: cgroup.kill; v1: freeze,
  // SIGKILL each pid, thaw) and waits up to `timeout` until they are empty.
  // DeadlineExceeded if processes remain.
  static absl::Status KillAll(const std::map<std::string, std::string>& backend_state,
                              absl::Duration timeout);

  // Removes the jail's directories (and the parent when it became empty).
  // Tolerates directories already gone. Unavailable if one stays busy.
  static absl::Status Remove(const std::map<std::string, std::string>& backend_state);

  // Host pids listed in `dir`/cgroup.procs.
  static absl::StatusOr<std::vector<int64_t>> ReadProcs(const std::string& dir);

 private:
  struct Hierarchy {
    std::string key;    // "memory", ..., "unified"
    std::string mount;  // /sys/fs/cgroup/memory
    std::string own;    // jailwarden's own cgroup in it ("/" or deeper)
  };
  std::string name_;
  std::vector<Hierarchy> hierarchies_;
};

}  // namespace jailwarden::platform
