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

  // The files a new member writes "0" to, from its only thread, to join the
  // jail's cgroups: `tasks` in each v1 hierarchy and, unless
  // `v2_joined_at_clone`, the v2 directory's cgroup.procs.
  //
  // Why `tasks` and not cgroup.procs: moving a whole thread group takes the
  // write side of the kernel's global cgroup_threadgroup_rwsem, which waits
  // for an RCU grace period (5–13 ms on the 2-vCPU test host, measured in
  // bench/README.md); moving only the calling thread ("0" written to
  // `tasks`) skips that lock (cgroup_procs_write_start). For a
  // single-threaded writer the two are the same move. The v2 tree has no
  // per-thread equivalent between domain cgroups, so a new process is best
  // placed there by clone3(CLONE_INTO_CGROUP) — see CloneIntoDir.
  static std::vector<std::string> JoinFiles(
      const std::map<std::string, std::string>& backend_state, bool v2_joined_at_clone);

  // The jail's v2 directory (the unified tree on hybrid hosts, the only tree
  // on v2 hosts), for clone3(CLONE_INTO_CGROUP); "" on v1-only hosts.
  static std::string CloneIntoDir(const std::map<std::string, std::string>& backend_state);

  // The directory whose cgroup.procs lists every process of the jail.
  static std::string MembershipDir(const std::map<std::string, std::string>& backend_state);

  // Kills every process in the jail's cgroups (v2: cgroup.kill; v1: freeze,
  // SIGKILL each pid, thaw) and waits up to `timeout` until they are empty.
  // DeadlineExceeded if processes remain.
  static absl::Status KillAll(const std::map<std::string, std::string>& backend_state,
                              absl::Duration timeout);

  // Removes the jail's directories. Tolerates directories already gone.
  // Unavailable if one stays busy. The shared parent stays: creating and
  // removing it with every jail doubled the cgroup work of a one-shot run.
  static absl::Status Remove(const std::map<std::string, std::string>& backend_state);

  // Removes <own>/<parent> in every hierarchy where it is empty (best
  // effort; a parent that still holds jails stays). For the runtime's
  // shutdown.
  void RemoveParent(std::string_view parent) const;

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
