#pragma once

// A Linux jail's privileges: which capabilities its processes keep, worked
// out from the FreeBSD `allow.*` jail parameters (jail(8),
// ../shared/reference/freebsd-rctl.md §11.4), the network mode and the
// Linux-only escape hatch `linux.capabilities`. docs/linux-privileges.md
// has the table and what cannot be reproduced.
//
// Pure functions (no system calls): the runtime computes the set when it
// prepares a jail, jailwarden-init and the setns helper drop to it with the
// raw system calls in src/platform/linux/cap_drop.h. Thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "jailwarden/platform/jail_spec.h"
#include "jailwarden/platform/linux/seccomp.h"

namespace jailwarden::platform {

// A set of capabilities: bit n is capability n (CAP_CHOWN = 0, ...,
// CAP_CHECKPOINT_RESTORE = 40).
using CapabilitySet = uint64_t;

constexpr CapabilitySet CapBit(int cap) { return CapabilitySet{1} << cap; }

// Every capability this build knows by name (0 .. kLastKnownCapability).
inline constexpr int kLastKnownCapability = 40;

// What a jail's processes may do.
struct JailPrivileges {
  // Kept in the bounding, permitted and effective sets; inheritable and
  // ambient are emptied. Ignored when `unrestricted`.
  CapabilitySet capabilities = 0;
  // linux.capabilities: all — nothing is dropped (the jail's root is the
  // host's root, as before jailwarden restricted jails).
  bool unrestricted = false;
  // allow.set_hostname: the jail's root may write the jail's own
  // /proc/sys/kernel/hostname (sethostname(2) itself needs CAP_SYS_ADMIN).
  bool set_hostname = false;
  // vnet: the jail's own network stack's sysctls (/proc/sys/net) stay
  // writable; otherwise all of /proc/sys is read-only in the jail.
  bool net_sysctls = false;
  // The seccomp filter every process in the jail runs under (seccomp.h):
  // the default, relaxed by allow.mount, CAP_SYS_TIME (allow.settime,
  // allow.adjtime) and allow.quotas, adjusted by linux.seccomp.
  SeccompSettings seccomp;
  // Things the operator should know (root-equivalent grants, parameters
  // Linux cannot honour). One sentence each, no trailing period.
  std::vector<std::string> warnings;
};

// The container-like base every jail's root keeps (allow.suser, the
// default): CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID,
// SETPCAP, SETFCAP, SYS_CHROOT, AUDIT_WRITE.
CapabilitySet BaseJailCapabilities();

// The privileges for `spec` (its `parameters` and network mode).
// InvalidArgument, naming the parameter, for a boolean parameter that is
// not true/false/1/0, an unknown name in linux.capabilities, or
// linux.capabilities together with allow.suser: false, or a bad
// linux.seccomp (ParseSeccompParameter).
absl::StatusOr<JailPrivileges> JailPrivilegesFor(const JailSpec& spec);

// The policy key that adjusts a jail's seccomp filter.
inline constexpr std::string_view kSeccompParam = "linux.seccomp";

// linux.seccomp's value as JailSpec::parameters carries it: white-space
// separated items "allow:NAME[,NAME...]" (taken off the default filter)
// and "deny:NAME[,NAME...]" (refused with EPERM in addition); "" changes
// nothing. Fills settings->allow and settings->deny. InvalidArgument
// naming the item for an unknown item or system call, or a name both
// allowed and denied.
absl::Status ParseSeccompParameter(std::string_view text, SeccompSettings* settings);

// The inverse: "allow:keyctl,add_key deny:ptrace", "" for neither.
std::string FormatSeccompParameter(const std::vector<std::string>& allow,
                                   const std::vector<std::string>& deny);

// "CAP_NET_RAW" for 13; "CAP_41" for a number this build has no name for.
std::string CapabilityName(int cap);

// 13 for "CAP_NET_RAW", "cap_net_raw", "NET_RAW" or "net_raw"; nullopt for
// anything else.
std::optional<int> CapabilityFromName(std::string_view name);

// Names separated by commas and/or white space, each as CapabilityFromName
// takes it. InvalidArgument naming the first bad item (and its position).
// "" is the empty set.
absl::StatusOr<CapabilitySet> ParseCapabilityList(std::string_view text);

// "CAP_CHOWN,CAP_KILL" in bit order; "" for the empty set. The inverse of
// ParseCapabilityList.
std::string FormatCapabilityList(CapabilitySet caps);

}  // namespace jailwarden::platform
