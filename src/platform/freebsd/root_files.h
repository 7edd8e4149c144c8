#pragma once

// Files the host writes into a jail's root (JailSpec::copies). The root's
// contents belong to the jail and its root is hostile: every directory on
// the way is opened with O_NOFOLLOW below the root (a symlink planted by
// the jail is refused, never followed to the host), missing directories
// are made (0755), and the file is written to a temporary name in its
// directory, fsync'ed and renamed over the target (renameat replaces a
// symlink without following it). Portable (Linux and FreeBSD).

#include <string>

#include "absl/status/status.h"

namespace jailwarden::platform {

// Copies host file `source` to `target` (absolute, inside the jail) below
// `root`, with the source's permission bits. Errors: InvalidArgument
// (target not absolute or with ".."), PermissionDenied ("... is a symlink
// or not a directory in the jail: not followed"), the errno of a failed
// read, write or rename. On error the target is unchanged.
absl::Status CopyIntoRoot(const std::string& root, const std::string& source,
                          const std::string& target);

}  // namespace jailwarden::platform
