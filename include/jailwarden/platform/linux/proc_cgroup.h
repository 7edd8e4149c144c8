#pragma once

// Parser for /proc/<pid>/cgroup (cgroups(7)): one line per hierarchy,
// "hierarchy-ID:controller-list:cgroup-path". The v2 line is "0::<path>".
// Pure: takes text, so it is tested anywhere on real captures.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace jailwarden::platform {

struct ProcCgroupEntry {
  int hierarchy_id = 0;                  // 0 for the unified (v2) tree
  std::vector<std::string> controllers;  // {"memory"}, {"name=systemd"}, {}
  std::string path;                      // "/", "/process_api/<hash>"
  friend bool operator==(const ProcCgroupEntry&, const ProcCgroupEntry&) = default;
};

// Parses the whole file. Blank lines are skipped. InvalidArgument naming
// the 1-based line on a malformed line (fewer than three fields, a
// non-numeric id, a path not starting with '/').
absl::StatusOr<std::vector<ProcCgroupEntry>> ParseProcCgroup(std::string_view text);

// The path of the v1 hierarchy carrying `controller`, or of the unified
// tree when `controller` is "" (hierarchy 0). nullptr if absent.
const ProcCgroupEntry* FindCgroupEntry(const std::vector<ProcCgroupEntry>& entries,
                                       std::string_view controller);

}  // namespace jailwarden::platform
