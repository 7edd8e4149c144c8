#pragma once

// Per-process RCTL limits as rlimits (linux-mapping.md §7): applied to
// live processes with prlimit(2) when rules change, and handed to the jail
// runtime to set before exec for processes started later.

#include <sys/resource.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/platform/linux/linux_limit_enforcer.h"
#include "jailwarden/rctl/resource.h"

namespace jailwarden::platform {

// The rlimit that enforces a per-process deny on `r` exactly (RLIMIT_DATA,
// RLIMIT_STACK, RLIMIT_CORE, RLIMIT_MEMLOCK, RLIMIT_NOFILE, RLIMIT_AS),
// RLIMIT_NPROC for maxproc (per user) and RLIMIT_CPU for cputime; nullopt
// for resources no rlimit covers. A lookup in resource_map.h.
std::optional<int> RlimitFor(rctl::Resource r);

// "RLIMIT_DATA", ... for display.
const char* RlimitName(int resource);

using RlimitSetting = LinuxRlimit;

// prlimit(pid, ...). NotFound if the process is gone (ESRCH).
absl::Status SetProcessRlimit(int64_t pid, const RlimitSetting& setting);
absl::StatusOr<RlimitSetting> GetProcessRlimit(int64_t pid, int resource);

// setrlimit() for the calling process, for a runtime's child between fork
// and exec: async-signal-safe, returns the errno (0 on success).
int ApplyRlimitsBeforeExec(const RlimitSetting* settings, std::size_t count);

}  // namespace jailwarden::platform
