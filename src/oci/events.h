#pragma once

// The data of runc's stats event for one container (events.cc; docs/oci.md,
// "events"), split out so tests can read it from fixture cgroup trees.
// Thread-compatible.

#include <string>

#include "absl/status/statusor.h"
#include "jailwarden/platform/linux/linux_usage_reader.h"
#include "oci/state.h"

namespace jailwarden::oci {

// runc's "data" object ({cpu, memory, pids, blkio}) as JSON text for the
// container `record`, its cgroups (record.backend_state) read through a
// LinuxUsageReader made with `options` and, for the rest, the shared cgroup
// file parsers. NotFound when the container's cgroups are gone;
// InvalidArgument when the record names no cgroup.
absl::StatusOr<std::string> StatsData(const ContainerRecord& record,
                                      const platform::LinuxUsageReaderOptions& options);

}  // namespace jailwarden::oci
