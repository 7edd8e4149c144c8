#pragma once

// Host file-system helpers for LinuxJailRuntime (preparing and tearing
// down a jail's directories). Thread-compatible; each is a few syscalls.

#include <string>

#include <sys/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/platform/jail_runtime.h"

namespace jailwarden::platform {

bool PathIsDir(const std::string& path);
bool HostPathExists(const std::string& path);

// rm -r of `path` without crossing mount points (nftw FTW_MOUNT); OK if it
// does not exist. The errno's status of the first failure.
absl::Status RemoveTree(const std::string& path);

// `copy`: the regular file `from` (a host path) to `target` inside the
// jail root `root` (jail-relative), resolved beneath the root
// (safe_path.h): parents are made (0755); a symlink on the way, or the
// target itself, that leads out of the root fails with EXDEV ("copy target
// /etc/resolv.conf: EXDEV: a symbolic link ... leads out of the jail's
// root") and nothing is written. A plain target is replaced atomically
// (temporary file in the same directory, fsync, rename); a target that is
// a symlink staying inside the root is written through. `from`'s
// permission bits.
absl::Status CopyFileIntoRoot(const std::string& from, const std::string& root,
                              const std::string& target);

// Removes group and other access from `dir` (a directory holding jail
// roots or writable layers), so no unprivileged host user can reach a
// set-user-ID program in a jail. Returns the mode it had when it changed
// it (0 when it was already closed). FailedPrecondition for "/" or a
// non-directory; the errno's status otherwise.
absl::StatusOr<mode_t> CloseToOthers(const std::string& dir);

// The daemon's side of the two rules above for one jail (spec.name,
// spec.path): CloseToOthers(Dirname(path)) with a warning log when it had
// to close it; every spec.copies entry copied with CopyFileIntoRoot, the
// first error prefixed with "jail NAME: " (errno kept).
absl::Status CloseRootParent(const std::string& jail, const std::string& path);
absl::Status CopyIntoRoot(const JailSpec& spec);

// "/a/b/c" -> "/a/b" ("/" for "/c" and names without '/'); -> "c".
std::string Dirname(const std::string& p);
std::string Basename(const std::string& p);

}  // namespace jailwarden::platform
