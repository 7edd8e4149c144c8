#pragma once

// Host file-system helpers for LinuxJailRuntime (preparing and tearing
// down a jail's directories). Thread-compatible; each is a few syscalls.

#include <string>

#include "absl/status/status.h"

namespace jailwarden::platform {

bool PathIsDir(const std::string& path);
bool HostPathExists(const std::string& path);

// rm -r of `path` without crossing mount points (nftw FTW_MOUNT); OK if it
// does not exist. The errno's status of the first failure.
absl::Status RemoveTree(const std::string& path);

// Copies the regular file `from` to `to` (created or truncated) with
// `from`'s permission bits. The errno's status naming the failing step.
absl::Status CopyFile(const std::string& from, const std::string& to);

// "/a/b/c" -> "/a/b" ("/" for "/c" and names without '/'); -> "c".
std::string Dirname(const std::string& p);
std::string Basename(const std::string& p);

}  // namespace jailwarden::platform
