#pragma once

// How many processes of a Linux jail the kernel's OOM killer has killed
// (issue 17: the oom_killed event). Read from the jail's memory cgroup: on
// cgroup v2 memory.events "oom_kill" (hierarchical: the jail and every
// cgroup below it), on v1 memory.oom_control "oom_kill" (kernel 4.13 and
// later). The counter starts at 0 when the jail's cgroup is made and only
// grows; the jail's root cannot write it.
//
// Thread-safe (reads files only).

#include <cstdint>

#include "absl/status/statusor.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::platform {

// Errors: InvalidArgument when `instance` records no cgroups; NotFound when
// the jail has no memory cgroup or the kernel no oom_kill counter; the
// read's ErrnoStatus (ENOENT once the jail's cgroup is gone).
absl::StatusOr<int64_t> ReadOomKillCount(const JailInstance& instance);

}  // namespace jailwarden::platform
