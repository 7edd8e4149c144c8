#pragma once

// A jail's cgroup as a systemd scope of its own (systemd.scope(5)), the way
// systemd-machined and podman place their machines and containers.
//
// Why: on a unified-only host, jails below the daemon's unit
// (`jailwarden.service/jailwarden/<name>`) keep controllers enabled in the
// unit's cgroup.subtree_control while they outlive the daemon; systemd 252
// (no DelegateSubgroup=) then cannot start the next main process in the
// unit's cgroup (EBUSY, status=219/CGROUP). In a scope of its own a jail is
// outside the unit: `systemctl restart`, `kill -9` of the daemon or
// `systemctl kill` cannot reach it, and the unit's cgroup never gets a
// controller enabled.
//
// Layout when scopes are used (LinuxJailRuntimeOptions::scopes set, chosen
// by SystemdScopesWanted):
//   <cgroup_root>/jailwarden.slice/<unit>            the scope (Delegate=yes)
//   <cgroup_root>/jailwarden.slice/<unit>/<name>     the jail's limits
//   <cgroup_root>/jailwarden.slice/<unit>/<name>/jail  its processes
// with <unit> = ScopeUnitName(cgroup_parent, name). The jail's init is
// handed to systemd by pid (StartTransientUnit PIDs=[init]) before it runs
// anything of the jail, then moved by the daemon into the leaf, then the
// offered controllers are enabled in the scope's cgroup.subtree_control.
// backend_state records the scope (kScopeUnitKey, kScopeCgroupKey) beside
// the usual cgroup keys, so a restarted daemon adopts the jail by those
// paths and destroy stops the scope.

#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace jailwarden::platform {

// The slice every jail scope goes in (packaging/linux/jailwarden.slice).
inline constexpr char kJailSlice[] = "jailwarden.slice";
// backend_state keys of a jail in a scope: the unit name and the scope's
// absolute cgroup directory.
inline constexpr char kScopeUnitKey[] = "systemd.scope";
inline constexpr char kScopeCgroupKey[] = "systemd.cgroup";

// What StartScope asks systemd for.
struct JailScopeRequest {
  std::string unit;         // "jailwarden-web.scope"
  std::string slice;        // kJailSlice
  std::string description;  // "jailwarden jail web"
  pid_t pid = 0;            // the jail's init (host pid)
  // The absolute cgroup directory the scope gets (SliceCgroupPath + unit
  // under the unified mount), to tell a leftover scope with processes
  // from one on its way out.
  std::string cgroup_dir;
};

// systemd's side of jail scopes. Implementations must be thread-safe.
class JailScopeManager {
 public:
  virtual ~JailScopeManager() = default;

  // Starts the transient scope `request.unit` in `request.slice` with
  // PIDs=[request.pid], Delegate=yes, CollectMode=inactive-or-failed,
  // TasksMax=infinity, and waits (at most `timeout`) for its start job to
  // finish. A unit of that name still loaded from an earlier run is waited
  // out while its cgroup is empty. Errors: FailedPrecondition when that
  // unit still has processes; DeadlineExceeded; the errno's status with
  // the D-Bus error name (e.g. org.freedesktop.systemd1.UnitExists) or a
  // failed job's result.
  virtual absl::Status StartScope(const JailScopeRequest& request, absl::Duration timeout) = 0;

  // Stops scope `unit` and waits (at most `timeout`) for the job; OK when
  // no such unit is loaded (already collected). The errno's status with
  // the D-Bus error otherwise.
  virtual absl::Status StopScope(std::string_view unit, absl::Duration timeout) = 0;
};

// The scope unit of jail `jail` of the daemon whose cgroup_parent is
// `cgroup_parent`: "jailwarden-<jail>.scope" for the default state
// directory's "jailwarden", "<cgroup_parent>:<jail>.scope" for another
// (":" never occurs in a jail name, so two daemons' names cannot meet).
// Pure.
std::string ScopeUnitName(std::string_view cgroup_parent, std::string_view jail);

// The cgroup path systemd gives slice `slice` ("a-b.slice" ->
// "/a.slice/a-b.slice"; "-.slice" -> ""). Pure.
std::string SliceCgroupPath(std::string_view slice);

// Whether jails get scopes: pid 1 is systemd (`<host_root>/proc/1/comm`),
// `<host_root>/run/systemd/system` exists (sd_booted(3)'s test), and
// `cgroup_root` is the unified hierarchy alone (cgroup.controllers at its
// top). `host_root` is "" except in tests. Hybrid and v1 hosts, and hosts
// without systemd, keep the jails below the daemon's cgroup.
bool SystemdScopesWanted(std::string_view cgroup_root, std::string_view host_root = "");

// The backend_state entries of jail `jail` in its scope under the unified
// mount `unified_mount` (cgroup.version, cgroup.unified, the leaf key,
// kScopeUnitKey, kScopeCgroupKey), made before anything exists. Pure.
std::map<std::string, std::string> PlannedScopeState(std::string_view unified_mount,
                                                     std::string_view cgroup_parent,
                                                     std::string_view jail);

// Puts the just-cloned init `pid` (not yet running the jail's set-up) into
// the scope `backend_state` plans: StartScope, checks that
// /proc/<pid>/cgroup names the planned scope, makes the jail's directory
// and leaf, moves `pid` into the leaf (cgroup.procs) and enables in the
// scope's cgroup.subtree_control every controller it offers. Errors: those
// of StartScope; FailedPrecondition when systemd put the pid elsewhere;
// the errno's status naming the file otherwise. On error the caller kills
// `pid` and calls RemoveJailScope.
absl::Status PlaceInitInScope(JailScopeManager& scopes,
                              const std::map<std::string, std::string>& backend_state,
                              std::string_view jail, pid_t pid);

// After the jail's own cgroups were removed: when the scope
// `backend_state` names still has processes, stops it and waits for the
// job; an empty scope systemd stops and collects by itself. OK when it
// records no scope or the unit is gone; StopScope's errors otherwise.
absl::Status RemoveJailScope(JailScopeManager& scopes,
                             const std::map<std::string, std::string>& backend_state);

}  // namespace jailwarden::platform
