#pragma once

// Where an rctl signal action (sigkill, sigterm, ...) of a rule on a
// sampled, jail-wide resource goes on Linux. FreeBSD signals the process
// whose charge crossed the limit (rctl_enforce at racct_add); a sampled
// sum has no such process, so (docs/linux-resources.md, "Signal actions"):
//   memoryuse, vmemoryuse, swapuse  the jail's biggest consumer of that
//                                   memory (VmRSS, VmSize, VmSwap), as the
//                                   OOM killer picks: the process whose
//                                   growth most likely crossed
//   every other resource            every process of the jail but its
//                                   init (JailRuntime::SignalAll)
// Never the jail's init: a signal action does not end the jail. Pure
// helpers, thread-compatible.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jailwarden/rctl/resource.h"

namespace jailwarden::platform {

// The /proc/PID/status field that measures `resource` for the choice of
// a biggest consumer ("VmRSS", "VmSize", "VmSwap"); nullopt for the
// resources whose signal goes to every process.
std::optional<std::string_view> SignalMemoryField(rctl::Resource resource);

// The value of `field` ("VmRSS:   1234 kB") in a /proc/PID/status text,
// in bytes; nullopt when absent (a kernel thread, a zombie).
std::optional<uint64_t> StatusFieldBytes(std::string_view status, std::string_view field);

// Of `pids`, the one whose status text (from `read_status`, nullopt for a
// process gone meanwhile) shows the most bytes in `field`; at equal bytes
// the lower pid. nullopt when none could be read.
std::optional<int64_t> BiggestConsumer(
    const std::vector<int64_t>& pids, std::string_view field,
    const std::function<std::optional<std::string>(int64_t pid)>& read_status);

}  // namespace jailwarden::platform
