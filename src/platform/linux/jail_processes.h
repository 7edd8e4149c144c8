#pragma once

// The processes of a running Linux jail as LinuxJailRuntime acts on them:
// who they are (the jail's cgroup, its init left out), how a process
// enters the jail (the ExecTarget for exec/spawn), and the signal of an
// rctl action that goes to one of them. Thread-compatible free functions;
// errors as absl::Status with the errno where the kernel gave one.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "jailwarden/platform/jail_runtime.h"
#include "jailwarden/platform/linux/linux_jail_runtime.h"
#include "jailwarden/rctl/resource.h"
#include "platform/linux/exec.h"

namespace jailwarden::platform {

// The value of `key` in the jail's backend state; "" when absent.
std::string BackendParam(const JailInstance& inst, const std::string& key);

// The pids in the jail's membership cgroup but its init; empty once the
// cgroup is gone (ENOENT). FailedPrecondition for a jail without a cgroup.
absl::StatusOr<std::vector<int64_t>> JailMembers(const JailInstance& inst);

// Sends `host_signal` to the jail's biggest consumer of `resource`'s
// memory (signal_target.h) and returns its pid. InvalidArgument for a
// resource without a biggest consumer, NotFound when only init runs.
absl::StatusOr<int64_t> SignalJailBiggestConsumer(const JailInstance& inst,
                                                  rctl::Resource resource, int host_signal);

// How a process enters the running jail `inst`: its init's namespaces,
// cgroups, capabilities, seccomp filter and the exec rlimits of `options`.
// FailedPrecondition when the jail is not running.
absl::StatusOr<ExecTarget> JailExecTarget(const JailInstance& inst,
                                          const LinuxJailRuntimeOptions& options);

}  // namespace jailwarden::platform
