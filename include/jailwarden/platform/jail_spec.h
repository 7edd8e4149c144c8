#pragma once

// What a jail is made of, independent of the OS: the jail(8) parameters
// jailwarden applies (../shared/reference/freebsd-rctl.md §11.3, §11.4).
// Plain data; the policy layer fills it from YAML, the jail layer persists it
// as JSON, the backends realize it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace jailwarden::platform {

struct MountSpec {
  std::string source;  // host path (nullfs / bind source), or fs type source
  std::string target;  // path inside the jail, absolute
  std::string fstype = "nullfs";  // nullfs (bind), tmpfs, procfs, devfs, ...
  bool read_only = false;
  std::string options;  // extra options, comma separated
  friend bool operator==(const MountSpec&, const MountSpec&) = default;
};

struct CopySpec {
  std::string source;  // host file
  std::string target;  // path inside the jail
  friend bool operator==(const CopySpec&, const CopySpec&) = default;
};

// inherit: the host's stack. new: own stack with loopback only (Linux netns;
// FreeBSD ip4=new with the addresses given). vnet: own stack plus an epair
// / veth pair whose jail end gets `ip4_addresses`.
enum class NetworkMode : uint8_t { kInherit, kNew, kVnet };

struct NetworkSpec {
  NetworkMode mode = NetworkMode::kInherit;
  std::vector<std::string> ip4_addresses;  // "169.254.10.2/30"
  std::vector<std::string> ip6_addresses;
  std::string host_ip4;                    // vnet: host end address
  std::string interface;                   // FreeBSD: alias interface
  friend bool operator==(const NetworkSpec&, const NetworkSpec&) = default;
};

// A list of commands run in order; each must exit 0 (jail(8)).
using CommandList = std::vector<std::string>;

struct ExecSpec {
  CommandList prepare, prestart, created, start, poststart;
  CommandList prestop, stop, poststop, release;
  bool clean = false;  // exec.clean
  absl::Duration timeout = absl::ZeroDuration();  // exec.timeout, 0 = none
  friend bool operator==(const ExecSpec&, const ExecSpec&) = default;
};

// ---- command / restart / log (issue 17, the supervised main process) ----

// `restart:` — when jailwarden-init starts the main process again after it
// exits. kOnFailure: a non-zero exit or a signal.
enum class RestartPolicy : uint8_t { kNo, kOnFailure, kAlways };

// `command:` and its supervision. Started by jailwarden-init (the jail's
// pid 1) after exec.start and exec.poststart, as exec.jail_user (root when
// unset), with exec.clean's environment rules; restarted per `restart`
// after a backoff that doubles from `backoff_initial` up to `backoff_max`;
// after `limit_count` starts within `limit_window` it stays down.
struct MainSpec {
  // argv; a string in the policy becomes {"/bin/sh", "-c", TEXT}. Empty =
  // no main process.
  std::vector<std::string> argv;
  RestartPolicy restart = RestartPolicy::kOnFailure;
  absl::Duration backoff_initial = absl::Seconds(1);
  absl::Duration backoff_max = absl::Seconds(60);
  int limit_count = 5;                            // restarts allowed ...
  absl::Duration limit_window = absl::Seconds(60);  // ... within this window
  friend bool operator==(const MainSpec&, const MainSpec&) = default;
};

// `log:` — the captured stdout/stderr of the main process and the hooks,
// under <state_dir>/logs/NAME/: rotated at `max_size` bytes, `max_files`
// files kept (the current one included), so a jail's logs never exceed
// max_size * max_files bytes.
struct LogSpec {
  int64_t max_size = 10 * 1024 * 1024;
  int max_files = 5;
  friend bool operator==(const LogSpec&, const LogSpec&) = default;
};

// ---- end command / restart / log ----

struct JailSpec {
  std::string name;        // no dots except as hierarchy separators
  std::string path;        // root directory, absolute
  std::string hostname;    // host.hostname ("" = name)
  // Thin jail: read-only base root under a writable per-jail layer at
  // `path` (iocage basejail, lightjail overlay). "" = `path` is the root.
  std::string base_root;
  NetworkSpec network;
  std::vector<MountSpec> mounts;
  std::vector<CopySpec> copies;
  ExecSpec exec;
  std::vector<std::string> depend;   // jails that must be up first
  bool persist = false;
  absl::Duration stop_timeout = absl::Seconds(10);  // stop.timeout
  std::map<std::string, std::string> parameters;    // other jail(8) params
  MainSpec main;  // command: (issue 17)
  LogSpec log;    // log: (issue 17)
  // The policy template an API create instantiated (`create -t`), "" for
  // every other jail. jailwarden's own record, never given to a backend:
  // the daemon finds the template's `healthcheck:` through it (issue 17).
  std::string template_name;
  friend bool operator==(const JailSpec&, const JailSpec&) = default;
};

}  // namespace jailwarden::platform
