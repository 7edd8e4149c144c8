#pragma once

// jailwarden-init's second role (init_main.cc): starting the commands the
// runtime sends over its unix socket (exec.cc, RequestFromInit), already
// inside every namespace and cgroup of the jail. Linked only into the
// static jailwarden-init binary.

#include <string>
#include <utility>

#include "platform/linux/init_main_supervisor.h"

namespace jailwarden::platform::jail_init {

// Binds and listens on the SOCK_SEQPACKET socket `path` (mode 0600), on
// the host's file system before pivot_root so the runtime can connect to
// it later (also after a jailwarden restart). Throws SetupError.
int ListenForCommands(const std::string& path);

// Accepts one connection, reads its InitRequest and stdio fds and forks
// the command. Returns the child's pid and the connection to send its wait
// status on (-1 for spawn, which gets only the pid), or pid -1. A
// main.* request (issue 17) goes to `main` and returns {-1, -1}.
std::pair<int, int> AcceptCommand(int listen_fd, MainSupervisor* main);

}  // namespace jailwarden::platform::jail_init
