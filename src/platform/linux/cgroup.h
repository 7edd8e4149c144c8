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
#include "jailwarden/platform/jail_spec.h"

namespace jailwarden::platform {

// The jail's processes live in a leaf below its cgroup ("<jail>/jail"),
// and its cgroup namespace is rooted at the leaf; the limits are written
// on "<jail>", which the jail can neither see nor reach even with a cgroup
// file system of its own (docs/security.md, "A jail's cgroups"). The
// backend_state key kCgroupLeafKey names the leaf; a jail recorded without
// it (made by an older jailwarden) has its processes in "<jail>" itself.
inline constexpr char kCgroupLeaf[] = "jail";
inline constexpr std::string_view kCgroupLeafKey = "cgroup_leaf";
// At most this many cgroups below one jail are walked (Tree): a jail that
// made more cannot be killed and removed by walking, and says so.
inline constexpr std::size_t kMaxCgroupTree = 16384;

// Whether a recursive bind of `source` (an absolute path without symlinks)
// would show a cgroup file system (cgroup or cgroup2): `source` lies in one,
// or one is mounted at or below it, per `mountinfo` (/proc/self/mountinfo
// text). Such a bind is always made read-only in a jail. Pure.
bool ExposesCgroupFilesystem(std::string_view source, std::string_view mountinfo);

// For a bind mount (nullfs, bind, "") in a jail's spec: whether its source
// (symlinks resolved) shows a cgroup file system per ExposesCgroupFilesystem
// over /proc/self/mountinfo (read once per call). False for other types and
// unresolvable sources (the mount then fails on its own).
bool BindShowsCgroupFilesystem(const MountSpec& mount);

class CgroupLayout {
 public:
  // Detects the layout under `cgroup_root` from the mounted file systems and
  // `proc_self_cgroup` (the text of /proc/self/cgroup). FailedPrecondition
  // if no hierarchy is usable.
  static absl::StatusOr<CgroupLayout> Detect(std::string_view cgroup_root,
                                             std::string_view proc_self_cgroup);

  // "hybrid", "v2" or "v1".
  std::string_view name() const { return name_; }

  // Where the unified (v2) tree is mounted; "" on v1-only hosts.
  std::string UnifiedMount() const;

  // Creates <own>/<parent>/<jail> and its leaf <jail>/jail in every
  // hierarchy. Returns the backend_state entries ("cgroup.<key>" ->
  // absolute directory of <jail>, kCgroupLeafKey -> "jail"). A directory
  // already there (left by a crash) is reused when no process is in it.
  absl::StatusOr<std::map<std::string, std::string>> Create(
      std::string_view parent, std::string_view jail) const;

  // The backend_state entries Create(parent, jail) would return, without
  // making anything: every hierarchy's <jail> directory (the v1 freezer
  // even where Create leaves it out), for a caller that must record what
  // it is about to make before it makes it (the OCI runtime's crash-safe
  // create). Remove and KillAll accept it: directories that do not exist
  // are skipped. Pure.
  std::map<std::string, std::string> Planned(std::string_view parent,
                                             std::string_view jail) const;

  // The files a new member writes "0" to, from its only thread, to join the
  // jail's leaf cgroups: `tasks` in each v1 hierarchy and, unless
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

  // The jail's v2 leaf directory (the unified tree on hybrid hosts, the only
  // tree on v2 hosts), for clone3(CLONE_INTO_CGROUP); "" on v1-only hosts.
  static std::string CloneIntoDir(const std::map<std::string, std::string>& backend_state);

  // The directory whose cgroup.procs lists the jail's processes: its leaf
  // (not the child cgroups a jail may make below it).
  static std::string MembershipDir(const std::map<std::string, std::string>& backend_state);

  // Kills every process in the jail's cgroups and every cgroup below them
  // (v2: cgroup.kill; v1: freeze, SIGKILL each pid of the subtree, thaw)
  // and waits up to `timeout` until they are empty. DeadlineExceeded if
  // processes remain; ResourceExhausted if the subtree is too large to walk.
  static absl::Status KillAll(const std::map<std::string, std::string>& backend_state,
                              absl::Duration timeout);

  // Removes the jail's directories, depth-first with every cgroup below
  // them (the jail's own children) in each hierarchy. Tolerates
  // directories already gone. The errno's status (EBUSY) if one stays busy. The shared parent stays: creating and
  // removing it with every jail doubled the cgroup work of a one-shot run.
  static absl::Status Remove(const std::map<std::string, std::string>& backend_state);

  // Removes <own>/<parent> in every hierarchy where it is empty (best
  // effort; a parent that still holds jails stays). For the runtime's
  // shutdown.
  void RemoveParent(std::string_view parent) const;

  // `top` and every cgroup directory below it, each parent before its
  // children; empty if `top` does not exist. ResourceExhausted past
  // kMaxCgroupTree directories; the errno's status if one is unreadable.
  static absl::StatusOr<std::vector<std::string>> Tree(const std::string& top);

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
