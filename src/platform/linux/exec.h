#pragma once

// Running commands on the host and inside a Linux jail. Everything the
// children need (argv, envp, candidate paths, cgroup files) is built before
// fork; between fork and exec the children make only async-signal-safe
// calls (style.md, sandbox2).

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::platform {

// Where a command runs.
struct ExecTarget {
  bool in_jail = false;
  int init_pid = -1;                   // jail: its pid 1 (host pid)
  int ns_flags = 0;                    // jail: CLONE_NEW* to enter
  std::vector<std::string> cgroup_join;  // jail: CgroupLayout::JoinFiles, "0" written to each
  std::string netns_path;              // host command run in this netns only
  // jail: jailwarden-init's command socket. When set, commands are started
  // by the jail's pid 1 itself (already in every namespace and cgroup: no
  // cgroup migration, no setns); the setns helper is the fallback.
  std::string init_socket;
  // jail: resource limits the command gets before exec (setrlimit in the
  // child): {RLIMIT_*, soft, hard}. The per-process RCTL denies
  // (LinuxLimitEnforcer::ExecRlimits), so a new process starts limited.
  std::vector<std::array<uint64_t, 3>> rlimits;
  // jail: the capability set the command gets (JailPrivileges,
  // capabilities.h). The setns helper's child drops to it before execve
  // (commands started by the jail's pid 1 inherit init's, the same set).
  // Unrestricted: nothing dropped (linux.capabilities: all, or a jail
  // created before jailwarden restricted jails).
  bool caps_restricted = false;
  uint64_t capabilities = 0;
  // jail: its seccomp settings (SeccompSettingsToText). Only the setns
  // helper path compiles them (before its fork) and installs the program
  // before execve: commands started by pid 1 inherit pid 1's filter. ""
  // for a jail made before jailwarden filtered jails (its pid 1 has none
  // either).
  std::string seccomp;
};

// Runs `request` and waits (with request.timeout). For a jail: a helper
// joins the cgroups and setns()es into the jail's namespaces through a
// pidfd of its pid 1, then forks the command (so it is in the jail's pid
// namespace) and reports its wait status. The command's exit status is
// passed through; 127 when argv[0] cannot be executed.
absl::StatusOr<ExecResult> ExecAndWait(const ExecTarget& target,
                                       const ExecRequest& request);

// Starts `request` in the jail without waiting; the command is
// re-parented to the jail's pid 1, which reaps it. Returns its host pid.
absl::StatusOr<int64_t> SpawnInJail(const ExecTarget& target,
                                    const ExecRequest& request,
                                    const std::string& membership_dir);

// The host pid of the jail member whose pid in the jail is `ns_pid`.
absl::StatusOr<int64_t> HostPidOf(int32_t ns_pid, const std::string& membership_dir);

// Runs a host program, capturing stderr for the error message; OK only on
// exit 0. Used for iproute2 (`ip`).
absl::Status RunHostTool(const std::vector<std::string>& argv,
                         const std::string& netns_path = "");

}  // namespace jailwarden::platform
