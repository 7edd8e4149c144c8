#pragma once

// How jail(8) spells the things FreeBsdJailRuntime passes on: addresses
// ("[iface|]addr[/mask]"), the ifconfig alias commands it runs for them
// (usr.sbin/jail/command.c), and hierarchical jail names ("a.b").
// Private to src/platform/freebsd/. Pure functions, thread-safe.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace jailwarden::platform {

// An address as jail(8) takes it: "[iface|]addr[/mask]".
struct IpSpec {
  std::string iface;  // "" = the `interface` parameter
  std::string addr;   // no mask
  std::string mask;   // "" / prefix length / dotted netmask
};

// Parses "[iface|]addr[/mask]". The mask is a prefix length (0-32, 0-128)
// or, for IPv4, a dotted netmask. Returns InvalidArgumentError naming the
// parameter (ip4.addr / ip6.addr) and the address, or the bad netmask.
absl::StatusOr<IpSpec> ParseIp(std::string_view text, bool v6);

// The ifconfig argv that adds (down = false) or removes the alias `ip` on
// `iface`: IP__IP4_IFADDR and IP__IP6_IFADDR of usr.sbin/jail/command.c.
std::vector<std::string> AliasArgv(const std::string& ifconfig,
                                   const std::string& iface, const IpSpec& ip,
                                   bool v6, bool down);

// "a.b.c" -> "a.b"; "" for a top-level jail.
std::string ParentName(const std::string& name);

}  // namespace jailwarden::platform
