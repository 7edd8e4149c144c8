#pragma once

// linux.disk_quota: a limit in bytes on a jail's writable layer (a thin
// jail's overlay upper directory, else the jail's root directory), where
// the file system holding it can enforce one per directory tree: ext4 and
// xfs project quotas, enabled on the mount (prjquota / pquota), and btrfs
// qgroups on a layer that is a subvolume (disk_quota_btrfs.h; quotas
// enabled by the admin). jailwarden never remounts or changes a host file
// system: anywhere else the key is
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
  std::string fstype;       // "ext4", "xfs" or "btrfs"
  std::string device;       // the mount's source, for quotactl(2)
  std::string mount_point;  // where it is mounted, for messages
};
// FailedPrecondition naming `dir`, its file system and why it cannot
// (tmpfs: no project quotas; ext4/xfs: mounted without prjquota/pquota;
// anything else: no project quotas). btrfs is accepted here; whether its
// quotas are on is DiskQuotaPrecheck's question. Pure.
absl::StatusOr<DiskQuotaTarget> DiskQuotaTargetFor(std::string_view dir,
                                                   std::string_view mountinfo);

// ParseDiskQuota of `text`, then DiskQuotaTargetFor the mount holding
// `path` (or, while it does not exist yet, its nearest existing parent);
// on btrfs also that quotas are enabled and that an existing `path` is a
// subvolume. Touches nothing. The first error.
absl::StatusOr<uint64_t> DiskQuotaPrecheck(const std::string& path, std::string_view text);

// Where the allocation of jail `name`'s project id starts (a hash, in
// 0x4a570000 + 0..0xffff, "JW"); the id itself is DiskQuotaProjects's
// (disk_quota_projects.h), recorded as quota.project in the runtime state.
uint32_t DiskQuotaProject(std::string_view name);

// Whether the file system on `device` charges blocks or inodes to
// `project` (quotactl Q_GETQUOTA, PRJQUOTA); a failure other than "no such
// quota" counts as in use.
bool DiskQuotaProjectInUse(const std::string& device, uint32_t project);

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
// jail's upper directory or a jail's root) once that exists, a project
// quota under the id `projects` allocates for spec.name, and records
// quota.bytes, quota.project, quota.fstype and quota.device in
// `backend_state`; ClearJailDiskQuota
// lifts what was recorded (OK when nothing was).
absl::StatusOr<std::optional<uint64_t>> DiskQuotaOfJail(const JailSpec& spec);
class DiskQuotaProjects;
absl::Status ApplyJailDiskQuota(const JailSpec& spec, std::optional<uint64_t> bytes,
                                DiskQuotaProjects& projects,
                                std::map<std::string, std::string>& backend_state);
absl::Status ClearJailDiskQuota(const JailSpec& spec,
                                const std::map<std::string, std::string>& backend_state);

// btrfs only (nothing elsewhere, or without a quota): before Prepare makes
// a thin jail's writable layer, makes it a subvolume when it does not
// exist yet (its parents as directories). Records nothing: the subvolume
// is found again by its path.
absl::Status PrepareJailDiskQuotaLayer(const JailSpec& spec, std::optional<uint64_t> bytes);

// btrfs only: when a thin jail with linux.disk_quota is destroyed, deletes
// the subvolume jailwarden made for its writable layer, with its data (a
// plain jail's root is the admin's and stays). OK when there is none.
absl::Status DiscardJailDiskQuotaLayer(const JailSpec& spec);

}  // namespace jailwarden::platform
