#pragma once

// A container's record under --root: <root>/<id>/state.json, written
// atomically (base::WriteFileAtomically, fsync'd), so a kill -9 of the
// runtime leaves the last whole record. The record is written first with
// `creating` and again right after the cgroups are made, so `delete
// --force` finds and removes what a killed `create` left (a kill in the
// window between mkdir of the cgroups and that write leaves them
// unrecorded; docs/oci.md).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace jailwarden::oci {

struct ContainerRecord {
  std::string id;
  std::string bundle;
  std::string created;           // RFC 3339, UTC
  std::string name;              // for the daemon (container_name.h); "" = the id
  int64_t pid = -1;              // host pid of the container's process
  uint64_t pid_starttime = 0;    // /proc/<pid>/stat field 22 (pid reuse)
  bool creating = true;          // create has not finished
  std::map<std::string, std::string> annotations;
  std::map<std::string, std::string> backend_state;  // cgroup.<hier>, cgroup_leaf
  std::vector<std::string> rules;  // in force, without "jail:<name>:"
  std::string seccomp_bpf_hex;     // for exec
  uint64_t capabilities = 0;       // for exec
  std::vector<std::string> poststop_hooks;   // JSON of each, for delete
  std::vector<std::string> poststart_hooks;  // JSON of each, for start
};

std::string ContainerDir(const std::string& root, const std::string& id);

// Reads <root>/<id>/state.json. NotFound ("container <id> does not exist").
// The record's JSON; DataLoss naming `what` (the file) when it does not parse.
absl::StatusOr<ContainerRecord> ParseRecord(const std::string& text, const std::string& what);
absl::StatusOr<ContainerRecord> LoadRecord(const std::string& root, const std::string& id);
absl::Status SaveRecord(const std::string& root, const ContainerRecord& record);

// Container ids under `root` (directories with a state.json), sorted.
std::vector<std::string> ListIds(const std::string& root);

// "creating", "created", "running", "paused" or "stopped", from the kernel:
// the process alive (same start time), the exec fifo still there, the
// freezer.
std::string StatusOf(const std::string& root, const ContainerRecord& record);

// The runtime-spec state JSON (ociVersion, id, status, pid, bundle,
// annotations).
std::string StateJson(const std::string& root, const ContainerRecord& record);

// /proc/<pid>/stat field 22, 0 if the process is gone.
uint64_t ProcessStartTime(int64_t pid);

}  // namespace jailwarden::oci
