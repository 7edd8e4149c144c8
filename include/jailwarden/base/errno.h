#pragma once

#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace jailwarden {

// Makes a Status from an errno value, as absl::ErrnoToStatus does (code from
// the errno, message "<context>: <strerror>"), and records the errno itself
// in a payload so callers can recover the exact kernel error (EOPNOTSUPP and
// ENOTSUP share a code; ERANGE and EOVERFLOW too). Thread-safe.
absl::Status ErrnoStatus(int errnum, std::string_view context);

// Like ErrnoStatus, but the message is exactly `message` (no strerror
// appended). Used where the text is a fixed user-facing string.
absl::Status ErrnoStatusWithMessage(int errnum, std::string_view message);

// Returns the errno recorded by ErrnoStatus, or nullopt when `status` carries
// none (including OK).
std::optional<int> StatusErrno(const absl::Status& status);

// Returns the symbolic name of an errno value ("EINVAL", "EOPNOTSUPP"), or
// "E<number>" for one it does not know. On Linux ENOTSUP == EOPNOTSUPP and
// the name given is "EOPNOTSUPP".
std::string_view ErrnoName(int errnum);

// Returns strerror(errnum) as FreeBSD's libc words it for the errno values
// rctl(8) can print (so "Operation not supported" for EOPNOTSUPP and
// "No such process" for ESRCH), and the host's strerror otherwise.
std::string_view FreeBsdStrerror(int errnum);

}  // namespace jailwarden
