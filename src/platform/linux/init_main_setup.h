#pragma once

// jailwarden-init's first role (init_main.cc): building the jail around
// itself before it reports "ok" (cgroups, mounts, /proc, /dev, hostname,
// loopback, command socket, pivot_root, capabilities). Linked only into
// the static jailwarden-init binary; errors are thrown (the binary is one
// function deep, and the report line names the failing step).

#include <cerrno>
#include <string>

#include "platform/linux/init_config.h"

namespace jailwarden::platform::jail_init {

// A failed setup step: what it was ("pivot_root", "bind root"), errno,
// and why in words when the errno alone would mislead ("" = none; EXDEV
// from a path resolved beneath the root: a link leads out of it).
struct SetupError {
  std::string step;
  int err;
  std::string detail = "";
};

// Throws SetupError{step, errno} when the syscall expression is non-zero.
#define JW_INIT_CHECK_SYS(expr, step)  \
  do {                                 \
    if ((expr) != 0) {                 \
      throw ::jailwarden::platform::jail_init::SetupError{(step), errno}; \
    }                                  \
  } while (false)

// Builds the jail described by `c` around the calling process (pid 1 of
// new mount, pid, UTS, IPC and maybe net namespaces), ending inside its
// root with its capability set. Returns the command socket's listening fd,
// -1 when `c` has no socket path. Throws SetupError.
int SetupJail(const InitConfig& c);

}  // namespace jailwarden::platform::jail_init
