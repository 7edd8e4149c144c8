#pragma once

// Issue 13: the isolation of a running Linux jail, reported like a rule's
// fidelity (GET /v1/jails/NAME "isolation", /metrics
// jailwarden_jail_isolation and jailwarden_jail_disk_quota_*_bytes). What
// the kernel can be asked is asked (the filter mode of the jail's pid 1,
// its mount table, the project quota's usage); the rest comes from the
// runtime state LinuxJailRuntime recorded when it made the jail.
// Thread-compatible.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

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
  // /proc/<init>/mountinfo (paths as the jail sees them); "" unread.
  std::string mountinfo;
  // The project's usage in bytes (quotactl Q_GETQUOTA); nullopt unread.
  std::optional<uint64_t> quota_used_bytes;
};

// The report, every layer of kIsolationLayers in order. Pure.
//   seccomp       recorded settings that parse, and the kernel does not
//                 say otherwise (seccomp_mode 2 or unread)
//   userns        seccomp on and none of unshare, clone, clone3 allowed
//   keyring       seccomp on and none of keyctl, add_key, request_key allowed
//   cgroup_ro     cgroup_leaf recorded
//   masked_paths  a runc masked /proc path is a mount point in mountinfo
//   disk_quota    quota.project and quota.bytes recorded
IsolationStatus LinuxIsolationStatusOf(const LinuxIsolationInputs& in);

// The "Seccomp:" field of a /proc/PID/status text; nullopt when absent.
std::optional<int> SeccompModeFromStatus(std::string_view status);

// Reads the inputs of a running jail (its init pid's /proc files, the
// quota's usage from the device recorded in quota.device) and reports.
// nullopt when the jail has no init pid.
std::optional<IsolationStatus> ReadLinuxIsolationStatus(const JailInstance& instance);

}  // namespace jailwarden::platform
