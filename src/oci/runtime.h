#pragma once

// The `jailwarden oci` commands (runc's command line; docs/oci.md). Each
// returns a Status whose message the CLI writes to stderr and, with
// --log-format json, to the --log file as podman/conmon parse it.
// Thread-compatible: one command per process.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace jailwarden::oci {

struct GlobalOptions {
  std::string root = "/run/jailwarden-oci";  // or $JAILWARDEN_OCI_ROOT
  std::string log;              // "" = stderr only
  bool log_json = false;
  bool debug = false;
  bool systemd_cgroup = false;  // accepted; cgroupfs is used (docs/oci.md)
};

struct CreateOptions {
  std::string id, bundle = ".", pid_file, console_socket;
  int preserve_fds = 0;
};

absl::Status Create(const GlobalOptions& g, const CreateOptions& o);
absl::Status Start(const GlobalOptions& g, const std::string& id);
absl::Status State(const GlobalOptions& g, const std::string& id, std::ostream& out);
absl::Status Kill(const GlobalOptions& g, const std::string& id, const std::string& signal,
                  bool all);
absl::Status Delete(const GlobalOptions& g, const std::string& id, bool force);
absl::Status List(const GlobalOptions& g, bool json, bool quiet, std::ostream& out);
absl::Status Ps(const GlobalOptions& g, const std::string& id, bool json, std::ostream& out);
absl::Status Pause(const GlobalOptions& g, const std::string& id, bool pause);
absl::Status Update(const GlobalOptions& g, const std::string& id,
                    const std::string& resources_file);
void Features(std::ostream& out);

// runc's `events`: with `stats_once` (--stats) one line
// {"type":"stats","id":ID,"data":{cpu,memory,pids,blkio}} (runc's field
// names; docs/oci.md); without it the same line every `interval` (a Go-style
// duration, "5s" by default) until the container stops or `out` closes.
// NotFound for an unknown id (the text `state` gives), FailedPrecondition
// for a container not running, InvalidArgument for a bad interval.
absl::Status Events(const GlobalOptions& g, const std::string& id, bool stats_once,
                    const std::string& interval, std::ostream& out);

struct ExecOptions {
  std::string id, process_file, pid_file, console_socket;
  bool tty = false, detach = false;
  std::vector<std::string> args;  // when no --process
  int preserve_fds = 0;
};
// Returns the process's exit status in *exit_code when not detached.
absl::Status Exec(const GlobalOptions& g, const ExecOptions& o, int* exit_code);

// A signal by name ("TERM", "SIGTERM", "KILL") or number ("9").
// InvalidArgument for anything else.
absl::Status ParseSignal(const std::string& text, int* sig);

}  // namespace jailwarden::oci
