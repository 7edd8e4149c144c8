#pragma once

// The Linux JailRuntime: a jail is a process tree in its own mount, pid,
// uts, ipc, cgroup (and, as configured, net) namespaces, rooted by
// pivot_root in JailSpec::path, with a pid-1 supervisor (jailwarden-init)
// and its own cgroups below the cgroup jailwarden runs in
// (../shared/reference/linux-mapping.md §2, §8, §9).
//
// JailInstance::backend_state keys written by this backend (all strings):
//   "init.pid"          host pid of the jail's pid 1 (also instance.init_pid)
//   "init.starttime"    /proc/<pid>/stat field 22 of it (pid-reuse guard)
//   "init.socket"       jailwarden-init's command socket (rundir/init.sock):
//                       exec/run/hook commands are forked by the jail's pid 1,
//                       so they start inside every namespace and cgroup
//   "cgroup.<hier>"     absolute cgroup directory per hierarchy used:
//                       cgroup.memory, cgroup.pids, cgroup.cpu,
//                       cgroup.cpuacct, cgroup.blkio, cgroup.freezer (v1
//                       hosts) and cgroup.unified (the v2 tree; on a
//                       v2-only host the only one)
//   "cgroup.version"    "hybrid" (v1 controllers + unified) or "v2"
//   "root"              the directory pivot_root'ed into (host view; for a
//                       thin jail the overlay mount point, which exists only
//                       inside the jail's mount namespace)
//   "overlay.lower" / "overlay.upper" / "overlay.work"   thin jails only
//   "devpts"            the jail's devpts instance, host view
//                       (/proc/<init>/root/dev/pts)
//   "netns"             /proc/<init>/ns/net ("" with ip4 inherit)
//   "net.mode"          inherit | new | vnet
//   "veth.host" / "veth.jail"   vnet only: interface names
//   "rundir"            the backend's per-jail directory
//   "persist"           "1" when the jail is kept alive with no processes
//   "systemd.scope" / "systemd.cgroup"   with `scopes`: the jail's scope
//                       unit and its cgroup directory (jail_scopes.h)

#include <array>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::platform {

class JailScopeManager;  // jail_scopes.h

struct LinuxJailRuntimeOptions {
  // Per-jail scratch directories (overlay mount points, init config).
  // Created if missing. Required, absolute.
  std::string run_dir;
  // The daemon's state directory: what must outlive a reboot (the project
  // ids of linux.disk_quota, <state_dir>/quota-projects). "": run_dir
  // holds them (a runtime without a daemon's state, as jailwarden oci's).
  std::string state_dir;
  // The pid-1 supervisor. "" = $JAILWARDEN_INIT, else `jailwarden-init`
  // beside /proc/self/exe, else ../src/jailwarden-init from it (build tree).
  std::string init_path;
  // Name of the directory made below jailwarden's own cgroup in every
  // hierarchy; jails go in <own>/<cgroup_parent>/<jail name>.
  std::string cgroup_parent = "jailwarden";
  // Mount point of the cgroup file systems (tests may point elsewhere).
  std::string cgroup_root = "/sys/fs/cgroup";
  // The iproute2 binary used for vnet set-up (run in the host's mount
  // namespace, entered into the jail's netns only).
  std::string ip_binary = "/usr/sbin/ip";
  // The resource limits a command started in `jail` gets before exec
  // ({RLIMIT_*, soft, hard}); asked on every Exec/Spawn in a jail, so the
  // per-process RCTL denies hold from a process's first instruction.
  // Unset: none beyond what the jail's pid 1 has. Called without locks
  // held by the runtime; must be thread-safe.
  std::function<std::vector<std::array<uint64_t, 3>>(std::string_view jail)>
      exec_rlimits;
  // Set (NewSystemdJailScopes) when SystemdScopesWanted: each jail's
  // cgroup is then a systemd scope of its own (jail_scopes.h), outside the
  // daemon's cgroup, and cgroup_parent only names the scopes. Needs the
  // unified-only layout (FailedPrecondition otherwise). Unset: jails in
  // <own>/<cgroup_parent>/<name>, as on hybrid and non-systemd hosts.
  std::shared_ptr<JailScopeManager> scopes;
};

// Makes the runtime. Errors: InvalidArgument (run_dir), NotFound (no
// jailwarden-init), FailedPrecondition (no usable cgroup hierarchy).
absl::StatusOr<std::unique_ptr<JailRuntime>> NewLinuxJailRuntime(
    LinuxJailRuntimeOptions options);

}  // namespace jailwarden::platform
