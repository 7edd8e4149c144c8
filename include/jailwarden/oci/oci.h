#pragma once

// `jailwarden oci …` and `jailwarden-oci …`: an OCI runtime with runc's
// command line (docs/oci.md), for podman/conmon and containerd. Runs one
// command and returns the process exit status (0, 1 on error, or for a
// non-detached `exec` the process's own status). Errors go to stderr and,
// with --log FILE, to FILE (one JSON object per line with --log-format
// json: {"level":"error","msg":...,"time":...}, as conmon reads it).
// Not thread-safe: one command per process.

#include <ostream>
#include <string>
#include <vector>

namespace jailwarden::oci {

int OciMain(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace jailwarden::oci
