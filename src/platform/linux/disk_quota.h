#pragma once

// linux.disk_quota: a limit in bytes on a jail's writable layer (a thin
// jail's overlay upper directory, else the jail's root directory), where
// the file system holding it can enforce one per directory tree: ext4 and
// xfs project quotas, enabled on the mount (prjquota / pquota). jailwarden
// never remounts or changes a host file system: anywhere else the key is
// refused with the reason (docs/security.md, "A jail's cgroups" and
// "Disk quota"). Thread-compatible; the functions touching the kernel are
// root-only.

#include <cstdint>
#include <string>
#include <string_view>

#include <map>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/platform/jail_spec.h"

namespace jailwarden::platform {

// The value of linux.disk_quota: a byte count with an optional K, M, G or
// T suffix (powers of 1024), at least 1M. InvalidArgument naming the key
// and the text otherwise.
absl::StatusOr<uint64_t> ParseDiskQuota(std::string_view text);

// What enforces a quota on `dir` (absolute, no symlinks), from the mount
// holding it in `mountinfo` (/proc/self/mountinfo text): its type, source
// and super options.
struct DiskQuotaTarget {
  std::string fstype;  // "ext4" or "xfs"
  std::string device;  // the mount's source, for quotactl(2)
};
// FailedPrecondition naming `dir`, its file system and why it cannot
// (tmpfs: no project quotas; ext4/xfs: mounted without prjquota/pquota;
// anything else: no project quotas). Pure.
absl::StatusOr<DiskQuotaTarget> DiskQuotaTargetFor(std::string_view dir,
                                                   std::string_view mountinfo);

// ParseDiskQuota of `text`, then DiskQuotaTargetFor the mount holding
// `path` (or, while it does not exist yet, its nearest existing parent).
// Touches nothing. The first error.
absl::StatusOr<uint64_t> DiskQuotaPrecheck(const std::string& path, std::string_view text);

// The project id jailwarden gives jail `name` (stable, in 0x4a570000 +
// 0..0xffff, "JW"): recorded as quota.project in the runtime state.
uint32_t DiskQuotaProject(std::string_view name);

// Sets project `project` (inherited) on `dir` and everything below it
// (at most 1,000,000 entries; symlinks are not followed) and its hard
// block limit to `bytes`. Finds the target itself (DiskQuotaTargetFor over
// the live mount table). The errno's status of the ioctl or quotactl that
// failed, naming the path.
absl::Status ApplyDiskQuota(const std::string& dir, uint64_t bytes, uint32_t project);

// Lifts the limit of `project` on the file system holding `dir` (best
// effort when the jail is torn down). OK when quotas are off there.
absl::Status ClearDiskQuota(const std::string& dir, uint32_t project);

// The runtime's three steps for `spec`'s linux.disk_quota parameter:
// DiskQuotaOfJail checks it before anything is made (nullopt: no quota);
// ApplyJailDiskQuota (nothing for nullopt) applies it to spec.path (the writable layer: a thin
// jail's upper directory or a jail's root) once that exists and records
// quota.bytes, quota.project, quota.fstype and quota.device in
// `backend_state`; ClearJailDiskQuota
// lifts what was recorded (OK when nothing was).
absl::StatusOr<std::optional<uint64_t>> DiskQuotaOfJail(const JailSpec& spec);
absl::Status ApplyJailDiskQuota(const JailSpec& spec, std::optional<uint64_t> bytes,
                                std::map<std::string, std::string>& backend_state);
absl::Status ClearJailDiskQuota(const JailSpec& spec,
                                const std::map<std::string, std::string>& backend_state);

}  // namespace jailwarden::platform
