#pragma once

// The policy schema's tables (every key the loader accepts) and small pure
// helpers for messages and address checks. docs/policy.md documents them.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jailwarden/platform/jail_spec.h"
#include "policy/yaml_tree.h"

namespace jailwarden::policy::internal {

// ---- jail keys ------------------------------------------------------------

// Keys with their own handling (mapped onto platform::JailSpec fields).
inline constexpr std::string_view kCoreJailKeys[] = {
    "template",
    "path",
    "host.hostname",
    "base",
    "ip4",
    "ip4.addr",
    "ip6",
    "ip6.addr",
    "interface",
    "vnet",
    "vnet.interface",
    "vnet.host_ip4",
    "mount",
    "copy",
    "exec.prepare",
    "exec.prestart",
    "exec.created",
    "exec.start",
    "exec.poststart",
    "exec.prestop",
    "exec.stop",
    "exec.poststop",
    "exec.release",
    "exec.clean",
    "exec.timeout",
    "stop.timeout",
    "persist",
    "depend",
    "limits",
    // ---- command / restart / log (issue 17; loader_command.cc) ----
    "command",
    "restart",
    "restart_backoff",
    "restart_limit",
    "log",
    // ---- end command / restart / log ----
    "healthcheck",  // issue 17: health checks (loader_health.cc)
};

struct ExecKey {
  std::string_view key;
  platform::CommandList platform::ExecSpec::*member;
};
inline constexpr ExecKey kExecKeys[] = {
    {"exec.prepare", &platform::ExecSpec::prepare},
    {"exec.prestart", &platform::ExecSpec::prestart},
    {"exec.created", &platform::ExecSpec::created},
    {"exec.start", &platform::ExecSpec::start},
    {"exec.poststart", &platform::ExecSpec::poststart},
    {"exec.prestop", &platform::ExecSpec::prestop},
    {"exec.stop", &platform::ExecSpec::stop},
    {"exec.poststop", &platform::ExecSpec::poststop},
    {"exec.release", &platform::ExecSpec::release},
};

// Other jail(8) parameters (freebsd-rctl.md §11.4), passed through to
// JailSpec::parameters as text after type checking.
// kSeccomp: linux.seccomp's map {allow: [names], deny: [names]}, stored in
// JailSpec::parameters in the form platform::ParseSeccompParameter reads.
enum class ParamType { kBool, kInt, kString, kPath, kTriState, kSeccomp };
struct ParamDef {
  std::string_view key;
  ParamType type;
  int64_t min = 0;
  int64_t max = 0;
};
inline constexpr ParamDef kParams[] = {
    {"host.domainname", ParamType::kString},
    {"host.hostuuid", ParamType::kString},
    {"host.hostid", ParamType::kInt, 0, 4294967295},
    {"securelevel", ParamType::kInt, -1, 3},
    {"devfs_ruleset", ParamType::kInt, 0, 65535},
    {"children.max", ParamType::kInt, 0, 1000000},
    {"enforce_statfs", ParamType::kInt, 0, 2},
    {"osrelease", ParamType::kString},
    {"osreldate", ParamType::kInt, 0, 2147483647},
    {"ip4.saddrsel", ParamType::kBool},
    {"ip6.saddrsel", ParamType::kBool},
    {"sysvmsg", ParamType::kTriState},
    {"sysvsem", ParamType::kTriState},
    {"sysvshm", ParamType::kTriState},
    {"mount.devfs", ParamType::kBool},
    {"mount.fdescfs", ParamType::kBool},
    {"mount.procfs", ParamType::kBool},
    {"exec.jail_user", ParamType::kString},
    {"exec.system_jail_user", ParamType::kBool},
    {"exec.system_user", ParamType::kString},
    {"exec.consolelog", ParamType::kPath},
    {"exec.fib", ParamType::kInt, 0, 65535},
    {"allow.set_hostname", ParamType::kBool},
    {"allow.sysvipc", ParamType::kBool},
    {"allow.raw_sockets", ParamType::kBool},
    {"allow.chflags", ParamType::kBool},
    {"allow.mount", ParamType::kBool},
    {"allow.mount.devfs", ParamType::kBool},
    {"allow.mount.fdescfs", ParamType::kBool},
    {"allow.mount.fusefs", ParamType::kBool},
    {"allow.mount.nullfs", ParamType::kBool},
    {"allow.mount.procfs", ParamType::kBool},
    {"allow.mount.linprocfs", ParamType::kBool},
    {"allow.mount.linsysfs", ParamType::kBool},
    {"allow.mount.tmpfs", ParamType::kBool},
    {"allow.mount.zfs", ParamType::kBool},
    {"allow.quotas", ParamType::kBool},
    {"allow.read_msgbuf", ParamType::kBool},
    {"allow.socket_af", ParamType::kBool},
    {"allow.mlock", ParamType::kBool},
    {"allow.nfsd", ParamType::kBool},
    {"allow.reserved_ports", ParamType::kBool},
    {"allow.unprivileged_parent_tampering", ParamType::kBool},
    {"allow.unprivileged_proc_debug", ParamType::kBool},
    {"allow.suser", ParamType::kBool},
    {"allow.extattr", ParamType::kBool},
    {"allow.adjtime", ParamType::kBool},
    {"allow.settime", ParamType::kBool},
    {"allow.routing", ParamType::kBool},
    {"allow.setaudit", ParamType::kBool},
    {"allow.vmm", ParamType::kBool},
    {"allow.vmm_ppt", ParamType::kBool},
    // Linux only: capabilities a jail's root keeps beyond what allow.*
    // grants, comma separated ("CAP_SYS_PTRACE,net_admin"), or "all"
    // (docs/linux-privileges.md). Names are checked when the jail is made.
    {"linux.capabilities", ParamType::kString},
    // Linux only: adjusts the jail's seccomp filter (docs/security.md):
    // {allow: [keyctl], deny: [ptrace]}; system call names are checked
    // here (on Linux, against libseccomp's table).
    {"linux.seccomp", ParamType::kSeccomp},
    // Linux only: a limit in bytes ("2G") on the jail's writable layer,
    // enforced by an ext4/xfs project quota; refused where the layer's file
    // system has none enabled (docs/security.md, "Disk quota").
    {"linux.disk_quota", ParamType::kString},
    // Linux only: a read-only sysfs at /sys with runc's masked paths
    // hidden (docs/security.md, "/sys"); without it a jail has no /sys.
    {"linux.sysfs", ParamType::kBool},
};
inline constexpr std::string_view kSeccompKeys[] = {"allow", "deny"};

inline constexpr std::string_view kServerKeys[] = {
    "listen",   "api_socket",      "state_dir",
    "backend",  "sample_interval", "slow_interval",
    "history",  "log_rate_limit",  "devctl_rate_limit",
    "throttle", "token_file",      "metrics_path",
    "stop_removed_jails",
    "tls",      "public_reads",    "web_config",
    "max_connections_per_peer",    "max_streams_per_peer",
    "request_timeout",
};
inline constexpr std::string_view kThrottleKeys[] = {"min", "max", "pct",
                                                     "pct2"};
inline constexpr std::string_view kTopKeys[] = {"server", "templates", "jails",
                                                "rules"};
inline constexpr std::string_view kMountKeys[] = {"source", "target", "fstype",
                                                  "read_only", "options"};
inline constexpr std::string_view kCopyKeys[] = {"source", "target"};
// ---- healthcheck (issue 17) ----
inline constexpr std::string_view kHealthCheckKeys[] = {
    "command", "interval", "timeout", "retries", "start_period", "on_failure"};
// ---- end healthcheck ----
inline constexpr std::string_view kMountTypes[] = {"nullfs", "tmpfs", "devfs",
                                                   "procfs", "fdescfs"};

// jail(8) spellings people bring from iocage/Bastille/jail.conf.
inline constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
    {"hostname", "host.hostname"}, {"name", "(the key under jails:)"},
    {"depends", "depend"},         {"command", "exec.start"},
    {"ip4_addr", "ip4.addr"},      {"ip6_addr", "ip6.addr"},
    {"mount.fstab", "mount"},      {"templates", "template"},
    {"limit", "limits"},           {"rctl", "limits"},
};

// Parameter families written nested instead of flat.
inline constexpr std::string_view kFamilies[] = {
    "exec", "mount", "host", "ip4", "ip6", "vnet", "allow", "stop"};

// The kParams entry for `key`, or nullptr.
const ParamDef* FindParam(std::string_view key);
// kCoreJailKeys followed by every kParams key.
std::vector<std::string_view> JailKeys();
// The key the user probably meant ('_' for '.', case, known aliases, a
// prefix, or at most 2 edits away), or "". A result starting with '(' is
// an explanation, not a key.
std::string Suggest(std::string_view key,
                    const std::vector<std::string_view>& allowed);
// 's' in single quotes, shortened to 96 characters and "..." when
// longer than 100 (jail names may be 255 long).
std::string Quote(std::string_view s);
// A node as a message shows it: 'scalar', "a list", "a map", "nothing".
std::string Found(const YamlNode& n);
// "line L:C".
std::string PosText(Position p);
// An address of `family` (AF_INET/AF_INET6), with "/prefix" if allowed.
bool ValidIp(std::string_view text, int family, bool allow_prefix);
// Why `s` is not a listen address ("IPv4:PORT" or "[IPv6]:PORT").
std::optional<std::string> ListenProblem(std::string_view s);

}  // namespace jailwarden::policy::internal
