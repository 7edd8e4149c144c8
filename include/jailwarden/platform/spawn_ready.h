#pragma once

// Starting one of jailwarden's long-lived helpers (jailwarden-logd, a
// jail's log writer; jailwarden-supervise, FreeBSD's main process host)
// and waiting for it to say it serves. Portable (Linux and FreeBSD).
// Thread-safe: nothing shared; every pipe is close-on-exec, so a fork in
// another thread does not keep the ready pipe open.

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace jailwarden::platform {

// Starts `argv[0]` (a path) with `argv` in a session of its own (it
// outlives this process; where posix_spawn has no POSIX_SPAWN_SETSID, as
// on FreeBSD 14, the helper calls setsid() itself) with stdin /dev/null,
// stdout the write end of a pipe, stderr and the environment this
// process's, and waits at most 5 s for the "ready\n" it writes once its
// socket is bound. Returns its pid: this process's child, for the caller
// to reap. The errno's status of pipe2 or posix_spawn ("start PATH");
// InternalError(`not_ready`) if it ends or says nothing in time (it is
// then killed and reaped; its stderr says why).
absl::StatusOr<pid_t> SpawnUntilReady(std::vector<std::string> argv, std::string_view not_ready);

}  // namespace jailwarden::platform
