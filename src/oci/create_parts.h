#pragma once

// Small steps of `create` (runtime.cc): the record's timestamp, the
// console socket, the process's oom score. Thread-compatible.

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "oci/spec.h"

namespace jailwarden::oci {

// The current time, RFC 3339 in UTC with six digits of microseconds (the
// record's `created`; sorts as text).
std::string NowRfc3339();

// Connects to --console-socket `path`; the connected descriptor
// (CLOEXEC). InvalidArgument for a path too long for sun_path, the errno
// of socket/connect otherwise.
absl::StatusOr<int> ConnectConsole(const std::string& path);

// Writes process.oomScoreAdj to /proc/<pid>/oom_score_adj unless the plan
// has none or it is already so; the errno, naming /process/oomScoreAdj.
absl::Status SetOomScoreAdj(const OciPlan& plan, pid_t pid);

}  // namespace jailwarden::oci
