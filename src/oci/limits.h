#pragma once

// A container's RCTL rules onto the kernel through the Linux limit
// enforcer (platform::LinuxLimitEnforcer), as for a native jail: each rule
// text ("memoryuse:deny=67108864") becomes "jail:<id>:<text>", is checked
// with the rctl grammar, applied all-or-nothing, and its fidelity written
// to stderr with --debug.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "oci/state.h"

namespace jailwarden::oci {

absl::Status ApplyLimits(const std::string& id, const ContainerRecord& record,
                         const std::vector<std::string>& rules, bool debug);

}  // namespace jailwarden::oci
