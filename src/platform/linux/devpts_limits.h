#pragma once

// pseudoterminals on Linux (linux-mapping.md §6): the jail's own devpts
// instance (newinstance) remounted with max=N inside the jail's mount
// namespace. posix_openpt then fails with ENOSPC past N.

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace jailwarden::platform {

// The kernel's default devpts max (NR_UNIX98_PTY_MAX).
inline constexpr int64_t kDevptsDefaultMax = 1 << 20;

// The max= of the devpts mounted at /dev/pts in the mount namespace of
// `pid` (from /proc/<pid>/mountinfo); kDevptsDefaultMax when the option is
// absent. NotFound if there is no devpts at /dev/pts there.
absl::StatusOr<int64_t> ReadDevptsMax(int64_t pid);
// The same from the text of that mountinfo (read by the caller, e.g. from
// a descriptor it holds); `pid` only names it in the error.
absl::StatusOr<int64_t> DevptsMaxFromMountinfo(std::string_view mountinfo, int64_t pid);

// Remounts that devpts with max=`max`, keeping its other options and
// mount flags (a remount resets any option not given). Runs in a forked
// child that joins the mount namespace of `pid` (setns(CLONE_NEWNS) is not
// allowed in a multithreaded process). Errors: NotFound (no devpts), the
// mount errno's status.
absl::Status SetDevptsMax(int64_t pid, int64_t max);

}  // namespace jailwarden::platform
