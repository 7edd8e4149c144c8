#include "platform/linux/jail_processes.h"

#include <sched.h>
#include <signal.h>

#include <cerrno>
#include <optional>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/linux/capabilities.h"
#include "platform/linux/cgroup.h"
#include "platform/linux/signal_target.h"

namespace jailwarden::platform {

std::string BackendParam(const JailInstance& inst, const std::string& key) {
  auto it = inst.backend_state.find(key);
  return it == inst.backend_state.end() ? "" : it->second;
}

absl::StatusOr<std::vector<int64_t>> JailMembers(const JailInstance& inst) {
  std::string dir = CgroupLayout::MembershipDir(inst.backend_state);
  if (dir.empty()) {
    return absl::FailedPreconditionError(StrCat("jail ", inst.ref.name, " has no cgroup"));
  }
  absl::StatusOr<std::vector<int64_t>> pids = CgroupLayout::ReadProcs(dir);
  if (!pids.ok()) {
    if (StatusErrno(pids.status()) == ENOENT) {
      return std::vector<int64_t>{};
    }
    return pids.status();
  }
  std::erase(*pids, inst.init_pid);
  return pids;
}

absl::StatusOr<int64_t> SignalJailBiggestConsumer(const JailInstance& inst,
                                                  rctl::Resource resource, int host_signal) {
  std::optional<std::string_view> field = SignalMemoryField(resource);
  if (!field) {
    return absl::InvalidArgumentError(
        StrCat(rctl::ResourceName(resource), " has no biggest consumer to signal"));
  }
  JW_ASSIGN_OR_RETURN(std::vector<int64_t> pids, JailMembers(inst));
  std::optional<int64_t> pid =
      BiggestConsumer(pids, *field, [](int64_t p) -> std::optional<std::string> {
        absl::StatusOr<std::string> s = ReadFile(StrCat("/proc/", p, "/status"), 1 << 16);
        return s.ok() ? std::optional<std::string>(*std::move(s)) : std::nullopt;
      });
  if (!pid) {
    return absl::NotFoundError(StrCat("jail ", inst.ref.name, " has no process but its init"));
  }
  if (kill(static_cast<pid_t>(*pid), host_signal) != 0 && errno != ESRCH) {
    return ErrnoStatus(errno, StrCat("kill ", *pid));
  }
  return *pid;
}

absl::StatusOr<ExecTarget> JailExecTarget(const JailInstance& inst,
                                          const LinuxJailRuntimeOptions& options) {
  if (inst.init_pid <= 0) {
    return absl::FailedPreconditionError(StrCat("jail ", inst.ref.name, " is not running"));
  }
  ExecTarget t;
  t.in_jail = true;
  t.init_pid = static_cast<int>(inst.init_pid);
  t.ns_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
  const std::string net_mode = BackendParam(inst, "net.mode");
  if (net_mode != "inherit" && !net_mode.empty()) {
    t.ns_flags |= CLONE_NEWNET;
  }
  // The setns helper is forked (single-threaded), so it joins v1 by
  // `tasks`; it has no clone3 of its own, so it writes the v2 cgroup.procs.
  t.cgroup_join = CgroupLayout::JoinFiles(inst.backend_state, /*v2_joined_at_clone=*/false);
  t.init_socket = BackendParam(inst, "init.socket");
  if (options.exec_rlimits) {
    t.rlimits = options.exec_rlimits(inst.ref.name);
  }
  // Absent for a jail made before jailwarden restricted jails: its init
  // has every capability, so entering ones get no fewer.
  if (auto it = inst.backend_state.find("capabilities");
      it != inst.backend_state.end() && it->second != "all") {
    JW_ASSIGN_OR_RETURN(t.capabilities, ParseCapabilityList(it->second));
    t.caps_restricted = true;
  }
  // Absent for a jail made before jailwarden filtered jails.
  if (auto it = inst.backend_state.find("seccomp"); it != inst.backend_state.end()) {
    t.seccomp = it->second;
  }
  return t;
}

}  // namespace jailwarden::platform
