#pragma once

// linux.disk_quota on btrfs: the jail's writable layer is a btrfs
// subvolume with a qgroup limit on its referenced bytes. btrfs has no
// per-directory quota, only per-subvolume qgroups, so a thin jail's upper
// directory is made a subvolume when jailwarden creates it, and a plain
// jail's root must already be one. Quotas must be enabled on the file
// system by its admin (`btrfs quota enable MOUNT`): jailwarden never
// changes a host file system's settings (docs/security.md, "Disk quota").
// Thread-compatible; everything here but the usage read is root-only
// (CAP_SYS_ADMIN in the initial user namespace).

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace jailwarden::platform {

// Whether `path` (existing) is the root of a btrfs subvolume: a directory
// on btrfs whose inode number is BTRFS_FIRST_FREE_OBJECTID. The errno's
// status of the stat(2) or statfs(2) that failed.
absl::StatusOr<bool> IsBtrfsSubvolume(const std::string& path);

// FailedPrecondition naming `mount_point` and the command that enables
// them when quotas are off on the btrfs holding `existing` (its
// /sys/fs/btrfs/FSID/qgroups directory is missing). Touches nothing.
absl::Status CheckBtrfsQuotasEnabled(const std::string& existing,
                                     const std::string& mount_point);

// Makes `path` (absent; its parent exists, on btrfs) a subvolume with mode
// 0755 (BTRFS_IOC_SUBVOL_CREATE on the parent). AlreadyExists if it
// exists.
absl::Status CreateBtrfsSubvolume(const std::string& path);

// The qgroup of the subvolume rooted at `path`, limited to `bytes`
// referenced (BTRFS_IOC_QGROUP_LIMIT, BTRFS_QGROUP_LIMIT_MAX_RFER; 0 lifts
// it). `usage_file` is its sysfs `referenced` file
// (/sys/fs/btrfs/FSID/qgroups/0_ID/referenced), for the report.
struct BtrfsQgroup {
  uint64_t subvolume_id = 0;
  std::string usage_file;
};
absl::StatusOr<BtrfsQgroup> LimitBtrfsSubvolume(const std::string& path, uint64_t bytes);

// Deletes the subvolume rooted at `path` with everything in it
// (BTRFS_IOC_SNAP_DESTROY on its parent). OK when `path` is gone.
absl::Status DeleteBtrfsSubvolume(const std::string& path);

// The referenced bytes in `usage_file` (a qgroup's sysfs file); nullopt
// when it cannot be read. Accounting is updated at transaction commits:
// up to the file system's commit interval behind.
std::optional<uint64_t> ReadBtrfsQgroupUsage(const std::string& usage_file);

}  // namespace jailwarden::platform
