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
  friend bool operator==(const JailSpec&, const JailSpec&) = default;
};

}  // namespace jailwarden::platform
