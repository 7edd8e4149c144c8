#pragma once

// A vnet jail's veth pair (linux-mapping.md §8), made with iproute2 (`ip`)
// for LinuxJailRuntime::AttachNetwork. The pair dies with the jail's
// network namespace.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "jailwarden/platform/jail_spec.h"

namespace jailwarden::platform {

struct LinuxVeth {
  std::string host_if;  // "jw" + 8 hex digits, unique per jail and start
  std::string jail_if;  // "eth0"
};

// The interface names of jail `name` whose pid 1 is `init_pid`. Pure.
LinuxVeth LinuxVethFor(std::string_view name, int64_t init_pid);

// Adds the pair with `ip_binary`, moves its jail end into the netns of
// `init_pid` (`netns_path`, /proc/<pid>/ns/net), assigns `network`'s
// addresses and brings both ends up. Internal with `ip`'s stderr when a
// step fails. Runs host programs: not for the sampler thread.
absl::Status AttachLinuxVeth(const std::string& ip_binary, const NetworkSpec& network,
                             const LinuxVeth& veth, int64_t init_pid,
                             const std::string& netns_path);

}  // namespace jailwarden::platform
