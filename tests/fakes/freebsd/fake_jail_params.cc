#include "fakes/freebsd/fake_jail_params.h"

#include <functional>
#include <map>
#include <set>

#include "jailwarden/base/strings.h"

namespace jailwarden::platform::fake_jail {

std::optional<ParamType> LookupParam(std::string_view name) {
  static const std::map<std::string, ParamType, std::less<>> kParams = {
      {"jid", ParamType::kInt},
      {"name", ParamType::kString},
      {"path", ParamType::kString},
      {"host.hostname", ParamType::kString},
      {"host.domainname", ParamType::kString},
      {"host.hostuuid", ParamType::kString},
      {"host.hostid", ParamType::kInt},
      {"host", ParamType::kJailsys},
      {"ip4.addr", ParamType::kIp4},
      {"ip6.addr", ParamType::kIp6},
      {"ip4", ParamType::kJailsys},
      {"ip6", ParamType::kJailsys},
      {"ip4.saddrsel", ParamType::kBool},
      {"ip6.saddrsel", ParamType::kBool},
      {"vnet", ParamType::kJailsys},
      {"sysvmsg", ParamType::kJailsys},
      {"sysvsem", ParamType::kJailsys},
      {"sysvshm", ParamType::kJailsys},
      {"securelevel", ParamType::kInt},
      {"devfs_ruleset", ParamType::kInt},
      {"children.max", ParamType::kInt},
      {"children.cur", ParamType::kReadOnly},
      {"enforce_statfs", ParamType::kInt},
      {"persist", ParamType::kBool},
      {"osrelease", ParamType::kString},
      {"osreldate", ParamType::kInt},
      {"parent", ParamType::kReadOnly},
      {"dying", ParamType::kReadOnly},
      {"cpuset.id", ParamType::kReadOnly},
      {"lastjid", ParamType::kInt},
  };
  if (auto it = kParams.find(name); it != kParams.end()) return it->second;
  if (StartsWith(name, "allow.")) {
    static const std::set<std::string, std::less<>> kAllow = {
        "set_hostname", "sysvipc", "raw_sockets", "chflags", "mount",
        "mount.devfs", "mount.fdescfs", "mount.fusefs", "mount.nullfs",
        "mount.procfs", "mount.linprocfs", "mount.linsysfs", "mount.tmpfs",
        "mount.zfs", "quotas", "read_msgbuf", "socket_af", "mlock", "nfsd",
        "reserved_ports", "unprivileged_parent_tampering",
        "unprivileged_proc_debug", "suser", "extattr", "adjtime", "settime",
        "routing", "setaudit", "vmm", "vmm_ppt"};
    if (kAllow.contains(name.substr(6))) return ParamType::kBool;
  }
  return std::nullopt;
}

std::pair<std::string, bool> SplitNoPrefix(std::string_view name) {
  const std::size_t dot = name.rfind('.');
  const std::size_t at = dot == std::string_view::npos ? 0 : dot + 1;
  if (name.substr(at, 2) == "no") {
    std::string base(name.substr(0, at));
    base.append(name.substr(at + 2));
    if (LookupParam(base) == ParamType::kBool) return {base, false};
  }
  return {std::string(name), true};
}

bool DefaultAllow(std::string_view name) {
  return name == "allow.set_hostname" || name == "allow.reserved_ports" ||
         name == "allow.suser";
}

}  // namespace jailwarden::platform::fake_jail
