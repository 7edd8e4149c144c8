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

#include "jailwarden/service/oci_watcher.h"

namespace jailwarden::service {

// The OCI containers the daemon shows read-only (DaemonOptions::oci_roots,
// oci_scanner); src/main.cc fills it from the oci layer on Linux.
struct ServeOci {
  std::vector<std::string> roots;
  OciScanner scanner;
};

// Runs the daemon in the foreground until SIGTERM/SIGINT. `args` are the
// words after "serve".
int RunServe(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err, ServeOci oci = {});

// `jailwarden serve --help` text.
extern const char kServeHelp[];

}  // namespace jailwarden::service
