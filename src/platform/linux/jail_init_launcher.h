#pragma once

// Starting a Linux jail's pid 1, jailwarden-init (init_main.cc), for
// LinuxJailRuntime::Create: clone3 into new namespaces (and, where the
// kernel allows, straight into the jail's v2 cgroup), hand it its
// InitConfig on fd 3 and read its one-line report from fd 4.

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "platform/linux/init_config.h"

namespace jailwarden::platform {

// The jailwarden-init binary: `configured` when set, else $JAILWARDEN_INIT,
// else beside the running executable (build tree and install layouts).
// NotFound, naming every candidate, if none is executable.
absl::StatusOr<std::string> FindJailInit(const std::string& configured);

// A started jailwarden-init.
struct LaunchedInit {
  int64_t pid = -1;  // host pid
  int pidfd = -1;    // owned by the caller
  int report_fd = -1;  // read end of its report pipe, owned by the caller
};

// Clones `init_path` with `clone_flags` (CLONE_NEW*) plus CLONE_PIDFD,
// born in the jail's v2 cgroup when `backend_state` names one (Linux 5.7
// CLONE_INTO_CGROUP; without it, init joins by cgroup.procs), and writes
// `config` (with its cgroup_join filled in) to its fd 3. Its stdio is
// /dev/null. The errno's status of clone3. Call from a thread that may
// fork (CloneVfork).
//
// With `place` set (a jail in a systemd scope, jail_scopes.h), init is
// cloned in the daemon's cgroup instead and `place(pid)` runs before init
// gets its config (init waits for it on fd 3, having run nothing of the
// jail): it must put init into the jail's v2 leaf. If it fails, init is
// killed and reaped and its error returned.
absl::StatusOr<LaunchedInit> LaunchJailInit(
    const std::string& init_path, uint64_t clone_flags,
    const std::map<std::string, std::string>& backend_state, InitConfig config,
    const std::function<absl::Status(int64_t pid)>& place = nullptr);

// Reads init's report from `report_fd` (closing it) until EOF or
// `timeout`: "ok" on success, else why it failed ("error <step>: ...",
// "error timeout waiting for jailwarden-init", or "" if init exited
// without a word). Whitespace stripped.
std::string ReadJailInitReport(int report_fd, absl::Duration timeout);

}  // namespace jailwarden::platform
