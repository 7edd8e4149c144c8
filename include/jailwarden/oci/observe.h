#pragma once

// What `jailwarden serve` reads of the containers `jailwarden oci` made
// (docs/oci.md, "Daemon visibility"): the records under a runtime root,
// read-only. The daemon never writes there; it only samples the cgroups a
// record names and shows the rules the runtime applied.
//
// Trust: the records are host-side files the runtime writes atomically
// (base::WriteFileAtomically), in a root directory that must be owned by
// root and not writable by group or others; nothing is read from inside a
// container's root file system. A record is opened without following
// symlinks, must be a regular file owned by root, and the cgroup
// directories it names must lie below /sys/fs/cgroup. A record still
// `creating`, or one that does not pass these checks, is skipped (and
// named in ObservedRoot::skipped). Thread-compatible; no state.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace jailwarden::oci {

// The runtime root `jailwarden oci` uses without --root: $JAILWARDEN_OCI_ROOT
// when it is an absolute path, else /run/jailwarden-oci.
std::string DefaultRoot();

// One container as its record says, with its status read from the kernel.
struct ObservedContainer {
  std::string id;
  // The name `create` chose (oci/container_name.h: annotation
  // org.jailwarden.name, podman's name through conmon), unchecked; "" = none.
  std::string name;
  std::string bundle;
  std::string created;  // RFC 3339, UTC, as the record has it
  // "created", "running", "paused" or "stopped" (never "creating").
  std::string status;
  int64_t pid = -1;  // host pid of the container's process (pid 1 inside)
  // backend_state for platform::JailInstance: the `cgroup.<hierarchy>`
  // directories, `cgroup_leaf`, `cgroup.version` and `init.pid` only.
  std::map<std::string, std::string> backend_state;
  // The rules the runtime applied, rctl's form without "jail:<id>:"
  // ("memoryuse:deny=67108864").
  std::vector<std::string> rules;
  std::map<std::string, std::string> annotations;
};

struct ObservedRoot {
  std::vector<ObservedContainer> containers;  // sorted by id
  // "<root>/<id>: why" for each record skipped as untrusted or unreadable
  // (records still being created are not listed).
  std::vector<std::string> skipped;
};

// Reads every container record under `root`. A root that does not exist is
// empty (OK). FailedPrecondition when `root` is a symlink, not a directory,
// not owned by uid 0, or writable by group or others (named in the
// message); the errno's status when it cannot be opened.
absl::StatusOr<ObservedRoot> ObserveRoot(const std::string& root);

}  // namespace jailwarden::oci
