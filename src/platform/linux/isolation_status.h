#pragma once

// Issue 13: the isolation of a running Linux jail, reported like a rule's
// fidelity (GET /v1/jails/NAME "isolation", /metrics
// jailwarden_jail_isolation and jailwarden_jail_disk_quota_*_bytes). What
// the kernel can be asked is asked (the filter mode of the jail's pid 1,
// its mount table, the project quota's usage); the rest comes from the
// runtime state LinuxJailRuntime recorded when it made the jail.
// Thread-compatible.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::platform {

// What LinuxIsolationStatusOf needs, read by ReadLinuxIsolationStatus.
struct LinuxIsolationInputs {
  // The jail's runtime state: "seccomp" (SeccompSettingsToText),
  // "cgroup_leaf", "quota.project", "quota.bytes", "quota.fstype".
  std::map<std::string, std::string> backend_state;
  // The "Seccomp:" field of /proc/<init>/status (0 none, 1 strict, 2
  // filter); nullopt when it could not be read.
  std::optional<int> seccomp_mode;
  // /proc/<init>/mountinfo (paths as the jail sees them), at most
  // kMaxMountinfoBytes of it, whole lines; "" unread.
  std::string mountinfo;
  // The mount table was longer than the bound: `mountinfo` is its start.
  bool mountinfo_truncated = false;
  // The project's usage in bytes (quotactl Q_GETQUOTA); nullopt unread.
  std::optional<uint64_t> quota_used_bytes;
};

// How much of a jail's /proc/PID/mountinfo is read for the report. A jail
// allowed to mount (allow.mount) can make thousands of mounts, and the
// kernel renders the whole table on every read; past this bound the
// report says it saw only the start (IsolationStatus::mountinfo_truncated).
// jailwarden-init's masks are mounted before any process of the jail runs,
// so they are in the first lines, long before the bound.
inline constexpr std::size_t kMaxMountinfoBytes = std::size_t{256} << 10;

// Reads at most `max_bytes` of `path` (a /proc file whose size stat(2)
// does not tell), cut back to its last whole line when the file goes on
// past the bound; `*truncated` says whether it did. The errno's status of
// the open or read that failed.
absl::StatusOr<std::string> ReadLinesBounded(const std::string& path, std::size_t max_bytes,
                                             bool* truncated);

// The report, every layer of kIsolationLayers in order. Pure.
//   seccomp       recorded settings that parse, and the kernel does not
//                 say otherwise (seccomp_mode 2 or unread)
//   userns        seccomp on and none of unshare, clone, clone3 allowed
//   keyring       seccomp on and none of keyctl, add_key, request_key allowed
//   cgroup_ro     cgroup_leaf recorded
//   masked_paths  a runc masked /proc path is a mount point in mountinfo
//   disk_quota    quota.bytes recorded with quota.project (ext4, xfs) or
//                 quota.fstype btrfs
// mountinfo_truncated is copied into the report.
IsolationStatus LinuxIsolationStatusOf(const LinuxIsolationInputs& in);

// The "Seccomp:" field of a /proc/PID/status text; nullopt when absent.
std::optional<int> SeccompModeFromStatus(std::string_view status);

// Reads the inputs of a running jail (its init pid's /proc files, the
// quota's usage from the device recorded in quota.device) and reports.
// nullopt when the jail has no init pid.
std::optional<IsolationStatus> ReadLinuxIsolationStatus(const JailInstance& instance);

}  // namespace jailwarden::platform
