#pragma once

// The SysV IPC limits of one IPC namespace (linux-mapping.md §5): the
// kernel.msg*, kernel.sem and kernel.shm* sysctls, which are per IPC
// namespace. They must be read and written by a thread inside the
// namespace (IpcNamespaceWorker); a new namespace starts from the kernel
// defaults, not from the host's values.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace jailwarden::platform {

struct IpcSysctls {
  int64_t msgmni = 0;  // queues (nmsgq, ENOSPC)
  int64_t msgmnb = 0;  // bytes and messages per queue (msgqsize/msgqqueued)
  // kernel.sem: SEMMSL (per set), SEMMNS (nsem), SEMOPM (nsemop), SEMMNI.
  std::array<int64_t, 4> sem{};
  int64_t shmmni = 0;  // segments (nshm)
  int64_t shmall = 0;  // pages, namespace total (shmsize)
  int64_t shmmax = 0;  // bytes per segment
  friend bool operator==(const IpcSysctls&, const IpcSysctls&) = default;
};

// kernel.sem text "32000\t1024000000\t500\t32000\n" -> the four values.
std::optional<std::array<int64_t, 4>> ParseSemSysctl(std::string_view text);
std::string FormatSemSysctl(const std::array<int64_t, 4>& sem);

// The calling thread's namespace values (/proc/sys/kernel/...).
absl::StatusOr<IpcSysctls> ReadIpcSysctlsHere();
// Writes the values that differ from `current` (all when null).
absl::Status WriteIpcSysctlsHere(const IpcSysctls& wanted, const IpcSysctls* current);

}  // namespace jailwarden::platform
