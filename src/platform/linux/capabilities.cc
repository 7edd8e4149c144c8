#include "jailwarden/platform/linux/capabilities.h"

#include <linux/capability.h>

#include <algorithm>
#include <array>

#include "absl/status/status.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {
namespace {

// capabilities(7) names without the CAP_ prefix, by number.
constexpr std::array<std::string_view, kLastKnownCapability + 1> kNames = {
    "CHOWN",           "DAC_OVERRIDE",   "DAC_READ_SEARCH", "FOWNER",
    "FSETID",          "KILL",           "SETGID",          "SETUID",
    "SETPCAP",         "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN",       "NET_RAW",        "IPC_LOCK",        "IPC_OWNER",
    "SYS_MODULE",      "SYS_RAWIO",      "SYS_CHROOT",      "SYS_PTRACE",
    "SYS_PACCT",       "SYS_ADMIN",      "SYS_BOOT",        "SYS_NICE",
    "SYS_RESOURCE",    "SYS_TIME",       "SYS_TTY_CONFIG",  "MKNOD",
    "LEASE",           "AUDIT_WRITE",    "AUDIT_CONTROL",   "SETFCAP",
    "MAC_OVERRIDE",    "MAC_ADMIN",      "SYSLOG",          "WAKE_ALARM",
    "BLOCK_SUSPEND",   "AUDIT_READ",     "PERFMON",         "BPF",
    "CHECKPOINT_RESTORE",
};
static_assert(CAP_CHECKPOINT_RESTORE == kLastKnownCapability);
static_assert(CAP_NET_RAW == 13 && CAP_SYS_ADMIN == 21 && CAP_SYSLOG == 34);

// allow.* parameters that grant a capability when true.
struct AllowGrant {
  std::string_view param;
  int cap;
  bool default_on;
};
constexpr AllowGrant kAllowGrants[] = {
    {"allow.reserved_ports", CAP_NET_BIND_SERVICE, true},
    {"allow.raw_sockets", CAP_NET_RAW, false},
    {"allow.mlock", CAP_IPC_LOCK, false},
    {"allow.chflags", CAP_LINUX_IMMUTABLE, false},
    {"allow.settime", CAP_SYS_TIME, false},
    {"allow.adjtime", CAP_SYS_TIME, false},
    {"allow.read_msgbuf", CAP_SYSLOG, false},
    {"allow.routing", CAP_NET_ADMIN, false},
    {"allow.mount", CAP_SYS_ADMIN, false},
};

// allow.* parameters Linux cannot honour without a root-equivalent grant
// (or at all), and why. Warned about when set true.
struct Unhonoured {
  std::string_view param;
  std::string_view why;
};
constexpr Unhonoured kUnhonoured[] = {
    {"allow.quotas", "quotactl(2) needs CAP_SYS_ADMIN (root-equivalent); not granted"},
    {"allow.extattr", "trusted.*/security.* xattrs need CAP_SYS_ADMIN (root-equivalent); "
                      "not granted"},
    {"allow.nfsd", "the kernel NFS server is not per jail on Linux; not granted"},
    {"allow.vmm", "a Linux jail's /dev has no /dev/kvm; not granted"},
    {"allow.vmm_ppt", "PCI passthrough is not available to Linux jails; not granted"},
    {"allow.setaudit", "the audit state is host-wide on Linux (CAP_AUDIT_CONTROL); not granted"},
    {"allow.sysvipc", "a Linux jail always has its own System V IPC namespace"},
    {"allow.unprivileged_parent_tampering", "not enforced on Linux"},
    {"allow.unprivileged_proc_debug",
     "not enforced on Linux (the host's kernel.yama.ptrace_scope applies)"},
};

constexpr std::string_view kMountFamily = "allow.mount.";
constexpr std::string_view kCapabilitiesParam = "linux.capabilities";

// true/false/1/0/yes/no/on/off; "" = true (a boolean given by name, as
// jail(8) writes it).
absl::StatusOr<bool> BoolParam(const JailSpec& spec, std::string_view key, bool def) {
  auto it = spec.parameters.find(std::string(key));
  if (it == spec.parameters.end()) {
    return def;
  }
  std::string v = AsciiToLower(StripWhitespace(it->second));
  if (v.empty() || v == "true" || v == "1" || v == "yes" || v == "on") {
    return true;
  }
  if (v == "false" || v == "0" || v == "no" || v == "off") {
    return false;
  }
  return absl::InvalidArgumentError(
      StrCat(key, ": expected true or false, got '", it->second, "'"));
}

}  // namespace

CapabilitySet BaseJailCapabilities() {
  return CapBit(CAP_CHOWN) | CapBit(CAP_DAC_OVERRIDE) | CapBit(CAP_FOWNER) |
         CapBit(CAP_FSETID) | CapBit(CAP_KILL) | CapBit(CAP_SETGID) | CapBit(CAP_SETUID) |
         CapBit(CAP_SETPCAP) | CapBit(CAP_SETFCAP) | CapBit(CAP_SYS_CHROOT) |
         CapBit(CAP_AUDIT_WRITE);
}

std::string CapabilityName(int cap) {
  if (cap >= 0 && cap <= kLastKnownCapability) {
    return StrCat("CAP_", kNames[static_cast<size_t>(cap)]);
  }
  return StrCat("CAP_", cap);
}

std::optional<int> CapabilityFromName(std::string_view name) {
  std::string upper(name);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  std::string_view n = upper;
  if (StartsWith(n, "CAP_")) {
    n.remove_prefix(4);
  }
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == n) {
      return static_cast<int>(i);
    }
  }
  return std::nullopt;
}

absl::StatusOr<CapabilitySet> ParseCapabilityList(std::string_view text) {
  CapabilitySet set = 0;
  int index = 0;
  for (std::string_view piece : Split(text, ',')) {
    for (std::string_view name : SplitWhitespace(piece)) {
      ++index;
      std::optional<int> cap = CapabilityFromName(name);
      if (!cap) {
        return absl::InvalidArgumentError(
            StrCat("'", name, "' (item ", index,
                   ") is not a Linux capability name (capabilities(7), e.g. "
                   "CAP_NET_ADMIN or net_admin)"));
      }
      set |= CapBit(*cap);
    }
  }
  return set;
}

std::string FormatCapabilityList(CapabilitySet caps) {
  std::string out;
  for (int cap = 0; cap < 64; ++cap) {
    if ((caps & CapBit(cap)) != 0) {
      StrAppend(&out, out.empty() ? "" : ",", CapabilityName(cap));
    }
  }
  return out;
}

absl::Status ParseSeccompParameter(std::string_view text, SeccompSettings* settings) {
  std::vector<std::string> allow, deny;
  for (std::string_view item : SplitWhitespace(text)) {
    std::vector<std::string>* into = nullptr;
    std::string_view names;
    if (StartsWith(item, "allow:")) {
      into = &allow;
      names = item.substr(6);
    } else if (StartsWith(item, "deny:")) {
      into = &deny;
      names = item.substr(5);
    } else {
      return absl::InvalidArgumentError(
          StrCat("\"", item, "\": expected allow:NAME,... or deny:NAME,..."));
    }
    for (std::string_view name : Split(names, ',')) {
      if (!IsKnownSyscallName(name)) {
        return absl::InvalidArgumentError(StrCat("\"", name, "\": not a system call"));
      }
      if (std::find(into->begin(), into->end(), name) == into->end()) {
        into->emplace_back(name);
      }
    }
  }
  for (const std::string& name : allow) {
    if (std::find(deny.begin(), deny.end(), name) != deny.end()) {
      return absl::InvalidArgumentError(StrCat("\"", name, "\": both allowed and denied"));
    }
  }
  settings->allow = std::move(allow);
  settings->deny = std::move(deny);
  return absl::OkStatus();
}

std::string FormatSeccompParameter(const std::vector<std::string>& allow,
                                   const std::vector<std::string>& deny) {
  std::string out;
  for (const auto& [tag, names] : {std::pair{"allow:", &allow}, std::pair{"deny:", &deny}}) {
    if (names->empty()) {
      continue;
    }
    StrAppend(&out, out.empty() ? "" : " ", tag);
    for (size_t i = 0; i < names->size(); ++i) {
      StrAppend(&out, i == 0 ? "" : ",", (*names)[i]);
    }
  }
  return out;
}

namespace {

// The seccomp part of a jail's privileges: what allow.* already grants as
// a capability is not refused again by the filter; linux.seccomp adjusts.
absl::Status AddSeccomp(const JailSpec& spec, JailPrivileges& p) {
  const bool suser = BoolParam(spec, "allow.suser", true).value_or(true);
  p.seccomp.allow_mount = suser && BoolParam(spec, "allow.mount", false).value_or(false);
  p.seccomp.allow_quotas = suser && BoolParam(spec, "allow.quotas", false).value_or(false);
  p.seccomp.allow_time = (p.capabilities & CapBit(CAP_SYS_TIME)) != 0;
  p.seccomp.guard_project_quota = spec.parameters.count("linux.disk_quota") != 0;
  auto it = spec.parameters.find(std::string(kSeccompParam));
  if (it == spec.parameters.end()) {
    return absl::OkStatus();
  }
  if (absl::Status st = ParseSeccompParameter(it->second, &p.seccomp); !st.ok()) {
    return absl::InvalidArgumentError(StrCat(kSeccompParam, ": ", ToStd(st.message())));
  }
  if (!p.seccomp.allow.empty()) {
    p.warnings.push_back(StrCat(kSeccompParam, ": allows ",
                                FormatSeccompParameter(p.seccomp.allow, {}).substr(6),
                                ", which the default filter refuses as a way out of the jail "
                                "(docs/security.md)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<JailPrivileges> CapabilitiesFor(const JailSpec& spec);

}  // namespace

absl::StatusOr<JailPrivileges> JailPrivilegesFor(const JailSpec& spec) {
  JW_ASSIGN_OR_RETURN(JailPrivileges p, CapabilitiesFor(spec));
  JW_RETURN_IF_ERROR(AddSeccomp(spec, p));
  return p;
}

namespace {

absl::StatusOr<JailPrivileges> CapabilitiesFor(const JailSpec& spec) {
  JailPrivileges p;
  // Every boolean is checked, whatever else decides, so a typo never
  // passes silently.
  bool suser = true, set_hostname = true;
  {
    absl::StatusOr<bool> v = BoolParam(spec, "allow.suser", true);
    if (!v.ok()) {
      return v.status();
    }
    suser = *v;
    v = BoolParam(spec, "allow.set_hostname", true);
    if (!v.ok()) {
      return v.status();
    }
    set_hostname = *v;
  }
  CapabilitySet granted = BaseJailCapabilities();
  std::vector<std::string> granted_by;  // allow.* that granted something
  bool mount = false;
  for (const AllowGrant& g : kAllowGrants) {
    absl::StatusOr<bool> v = BoolParam(spec, g.param, g.default_on);
    if (!v.ok()) {
      return v.status();
    }
    if (*v) {
      granted |= CapBit(g.cap);
      if (!g.default_on) {
        granted_by.emplace_back(g.param);
      }
      mount = mount || g.cap == CAP_SYS_ADMIN;
    }
  }
  for (const Unhonoured& u : kUnhonoured) {
    absl::StatusOr<bool> v = BoolParam(spec, u.param, false);
    if (!v.ok()) {
      return v.status();
    }
    if (*v && suser) {
      p.warnings.push_back(StrCat(u.param, ": ", u.why));
    }
  }
  std::vector<std::string> mount_types;
  for (const auto& [key, value] : spec.parameters) {
    if (!StartsWith(key, kMountFamily)) {
      continue;
    }
    absl::StatusOr<bool> v = BoolParam(spec, key, false);
    if (!v.ok()) {
      return v.status();
    }
    if (*v) {
      mount_types.push_back(key);
    }
  }
  if (spec.network.mode != NetworkMode::kInherit) {
    // A stack of the jail's own (a network namespace: vnet, and on Linux
    // also ip4: new with loopback only). FreeBSD lets root in a vnet jail
    // use raw sockets whatever allow.raw_sockets says (kern_jail.c,
    // prison_priv_check: PRIV_NETINET_RAW in the VIMAGE list): they reach
    // only the jail's own interfaces. allow.raw_sockets guards the host's
    // stack.
    granted |= CapBit(CAP_NET_RAW);
  }
  if (spec.network.mode == NetworkMode::kVnet) {
    // FreeBSD: root in a vnet jail configures its own network stack.
    granted |= CapBit(CAP_NET_ADMIN);
  }

  if (!suser) {
    // FreeBSD: the jail's root is an ordinary user, no allow.* makes it
    // privileged.
    if (spec.parameters.count(std::string(kCapabilitiesParam)) != 0) {
      return absl::InvalidArgumentError(
          StrCat(kCapabilitiesParam,
                 " conflicts with allow.suser: false (a jail whose root has no privileges)"));
    }
    for (const std::string& g : granted_by) {
      p.warnings.push_back(StrCat(g, ": ignored, allow.suser is false"));
    }
    return p;  // no capabilities, hostname and /proc/sys read-only
  }

  p.capabilities = granted;
  p.set_hostname = set_hostname;
  p.net_sysctls = spec.network.mode == NetworkMode::kVnet;
  if (mount) {
    p.warnings.push_back(
        "allow.mount: granted as CAP_SYS_ADMIN, which on Linux without a user namespace is "
        "root-equivalent (the jail's root can escape); every file system type may be "
        "mounted, allow.mount.<fs> and enforce_statfs are not checked");
  } else {
    for (const std::string& key : mount_types) {
      p.warnings.push_back(StrCat(key, ": no effect without allow.mount (as on FreeBSD)"));
    }
  }
  if ((granted & CapBit(CAP_NET_ADMIN)) != 0 && spec.network.mode == NetworkMode::kInherit) {
    p.warnings.push_back(
        "allow.routing: granted as CAP_NET_ADMIN on the host's network stack (ip4: inherit), "
        "which covers all of its configuration (interfaces, addresses, firewall), not only "
        "routes");
  }
  bool settime = BoolParam(spec, "allow.settime", false).value_or(false);
  if ((granted & CapBit(CAP_SYS_TIME)) != 0 && !settime) {
    p.warnings.push_back(
        "allow.adjtime: granted as CAP_SYS_TIME, which also lets the jail set the clock "
        "(allow.settime)");
  }

  auto it = spec.parameters.find(std::string(kCapabilitiesParam));
  if (it != spec.parameters.end()) {
    std::string_view text = StripWhitespace(it->second);
    if (EqualsIgnoreCase(text, "all")) {
      p.unrestricted = true;
      p.capabilities = ~CapabilitySet{0};
      p.warnings.push_back(
          "linux.capabilities: all — the jail's root keeps every capability of the host's "
          "root (no isolation of privileges)");
      return p;
    }
    absl::StatusOr<CapabilitySet> extra = ParseCapabilityList(text);
    if (!extra.ok()) {
      return absl::InvalidArgumentError(
          StrCat(kCapabilitiesParam, ": ", ToStd(extra.status().message())));
    }
    if (CapabilitySet added = *extra & ~p.capabilities; added != 0) {
      p.capabilities |= added;
      p.warnings.push_back(StrCat("linux.capabilities: adds ", FormatCapabilityList(added),
                                  " beyond what the allow.* parameters grant"));
    }
  }
  return p;
}

}  // namespace

}  // namespace jailwarden::platform
