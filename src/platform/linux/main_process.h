#pragma once

// The daemon's side of the jail's supervised main process (`command:`,
// issue 17): requests to jailwarden-init's command socket ("main.start",
// "main.status", "main.stop"; init_main_supervisor.h is init's side).
// Thread-safe (one connection per call). Every call is bounded by
// `timeout`: a jail whose pid 1 does not answer cannot stall the caller.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/platform/jail_runtime.h"
#include "platform/linux/init_config.h"

namespace jailwarden::platform {

// Sends `request` (with `fds` as SCM_RIGHTS when all three are >= 0) and
// reads init's status answer. Errors: the socket's errno (ENOENT,
// ECONNREFUSED: no init), DeadlineExceeded after `timeout`, Internal for
// an answer that is not a status.
absl::StatusOr<MainProcessStatus> AskInitAboutMain(const std::string& socket_path,
                                                   const InitRequest& request,
                                                   const int fds[3], absl::Duration timeout);

// The jail cgroup's OOM counter file init reads at a main process's exit:
// v1 memory.oom_control where a v1 memory hierarchy is used, else the v2
// memory.events; "" when neither.
std::string OomEventsPathOf(const std::map<std::string, std::string>& backend_state);

// InitMainSpec from the policy's MainSpec and exec.jail_user.
InitMainSpec InitMainSpecOf(const MainSpec& spec, const std::string& user);

// The three requests, as LinuxJailRuntime makes them. `request.env` is
// added to the daemon's environment, or replaces it with clean_env
// (exec.clean); its stdio fds (-1 = /dev/null) are kept by init for every
// restart. `rlimits`: {RLIMIT_*, soft, hard} set before exec.
absl::StatusOr<MainProcessStatus> StartMainViaInit(
    const std::string& socket_path, const ExecRequest& request, const MainSpec& spec,
    const std::string& user, const std::vector<std::array<uint64_t, 3>>& rlimits);
absl::StatusOr<MainProcessStatus> MainStatusViaInit(const std::string& socket_path);
absl::StatusOr<MainProcessStatus> StopMainViaInit(const std::string& socket_path,
                                                  absl::Duration timeout);

}  // namespace jailwarden::platform
