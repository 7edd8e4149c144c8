#pragma once

// `jailwarden serve`: flags, the signal loop and the exit status.
//   SIGHUP          reload the policy file (a bad one changes nothing)
//   SIGTERM/SIGINT  stop jailwarden; jails keep running unless
//                   --stop-jails-on-exit
// Exit status: 0 after a clean stop, EX_CONFIG for a bad policy or
// backend, EX_NOPERM when not root, EX_UNAVAILABLE when it cannot listen or
// the host lacks what the backend needs, EX_USAGE for bad flags.

#include <ostream>
#include <string>
#include <vector>

namespace jailwarden::service {

// Runs the daemon in the foreground until SIGTERM/SIGINT. `args` are the
// words after "serve".
int RunServe(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err);

// `jailwarden serve --help` text.
extern const char kServeHelp[];

}  // namespace jailwarden::service
