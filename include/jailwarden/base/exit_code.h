#pragma once

// The one map from a final absl::Status to the process exit code, shared by
// `jailwarden serve` and every CLI verb. Codes are sysexits(3)'s, except
// that a plain failure of the operation exits 1, as rctl(8) and jail(8) do:
//
//   OK                                        0   EX_OK
//   InvalidArgument, FailedPrecondition      78   EX_CONFIG
//       a policy, jail definition or rule refused (serve's bad policy,
//       `apply`, `validate`), or a request that conflicts with it
//   PermissionDenied, Unauthenticated        77   EX_NOPERM
//       not root, or a missing or bad API token
//   Unavailable, DeadlineExceeded,           69   EX_UNAVAILABLE
//   Unimplemented
//       the daemon cannot be reached or answered too late, or this host
//       (kernel, backend) lacks what was asked
//   Internal, Unknown, DataLoss              70   EX_SOFTWARE
//       a bug, or data that cannot be what it claims to be
//   NotFound, AlreadyExists, Aborted,         1
//   Cancelled, OutOfRange, ResourceExhausted
//       the operation failed on the state of things ("no jail named
//       'ghost'"), which rctl(8) reports with 1
//
// EX_USAGE (bad command line) and EX_NOINPUT (an input file that cannot be
// read) come from the argument parsers and file readers, which know the
// cause better than a status code does, and never from here.

#include "absl/status/status.h"

namespace jailwarden {

// The exit code for `status` per the table above. Pure; thread-safe.
int ExitCodeFor(const absl::Status& status);

}  // namespace jailwarden
