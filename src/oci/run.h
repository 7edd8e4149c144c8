#pragma once

// `jailwarden-oci run ID` as runc's `run` without --detach: create, start,
// wait for the container's process, delete, all in this one process, so a
// client pays for one runtime start instead of three (bench/README.md).
// Thread-compatible: one command per process (it changes the signal mask).

#include "absl/status/status.h"
#include "oci/runtime.h"

namespace jailwarden::oci {

// Creates and starts container `o.id`, forwards SIGHUP, SIGINT, SIGQUIT,
// SIGTERM, SIGUSR1, SIGUSR2 and SIGWINCH to its process while it runs,
// waits for it to exit and deletes the container (poststop hooks
// included). *exit_code is the process's exit status, or 128 + the signal
// that ended it, as a shell reports it. Errors: Create's or Start's (the
// container is then deleted), or a failed wait/delete with errno's name.
absl::Status RunForeground(const GlobalOptions& g, const CreateOptions& o, int* exit_code);

}  // namespace jailwarden::oci
