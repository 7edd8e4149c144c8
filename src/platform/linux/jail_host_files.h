#pragma once

// Host file-system helpers for LinuxJailRuntime (preparing and tearing
// down a jail's directories). Thread-compatible; each is a few syscalls.

#include <functional>
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

// The primitives behind the rules below, for any file jailwarden writes
// into a jail root (root_fd: O_PATH descriptor of the root; paths
// jail-relative). Errors name `what` and the path with the errno's name
// ("copy target /etc/x: EXDEV: a symbolic link ... leads out of the
// jail's root"), and nothing is written.
//
// WriteFileBeneath: the file `target` with `mode`, contents written by
// `fill` to the descriptor it is given. A plain target is replaced
// atomically (temporary file beside it, fsync, renameat in the resolved
// directory); a target that is a symlink staying inside the root is
// written through; parents are made (0755).
absl::Status WriteFileBeneath(int root_fd, const std::string& what, const std::string& target,
                              mode_t mode, const std::function<absl::Status(int)>& fill);
// The symlink `link` -> `target` (text, not resolved), replacing a file or
// link of that name.
absl::Status SymlinkBeneath(int root_fd, const std::string& target, const std::string& link);
// mkdir -p `dir`, then exactly `mode` (no umask) on the last one.
absl::Status MkdirBeneath(int root_fd, const std::string& dir, mode_t mode);
// read(in) -> write(out) until EOF; errors name `from` / `to`.
absl::Status CopyData(int in, int out, const std::string& from, const std::string& to);

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
// it (0 when it was already closed). FailedPrecondition for "/", a
// non-directory, or a shared directory (sticky or writable by others, as
// /tmp: closing it would break the host); the errno's status otherwise.
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
