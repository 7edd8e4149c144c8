// FreeBsdJailRuntime's host-side steps, in jail(8)'s order, and their undo:
// address aliases (ifconfig), nmount(2) of the base, the spec's mounts,
// devfs, fdescfs and procfs (Prepare), the vnet interface moved in
// (AttachNetwork), and Teardown. What was done is recorded in
// JailInstance::backend_state so that Teardown undoes exactly that.

#include "jailwarden/platform/freebsd/jail_runtime.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "platform/freebsd/jail8_forms.h"
#include "platform/freebsd/root_files.h"

namespace jailwarden::platform {
namespace {

constexpr char kStateMounts[] = "mounts";
constexpr char kStateIp4[] = "ip4_aliases";
constexpr char kStateIp6[] = "ip6_aliases";
constexpr char kStateVnetIface[] = "vnet_interface";
constexpr char kStateVnetHostAlias[] = "vnet_host_alias";
constexpr char kStateEpairHost[] = "epair_host";
constexpr char kStateEpairJail[] = "epair_jail";
constexpr char kStateConsolelog[] = "consolelog";

// What an iocage-style basejail mounts read-only from the base release.
constexpr const char* kBaseDirs[] = {
    "/bin",         "/boot",        "/lib",     "/libexec",     "/rescue",
    "/sbin",        "/usr/bin",     "/usr/include", "/usr/lib", "/usr/lib32",
    "/usr/libdata", "/usr/libexec", "/usr/sbin", "/usr/share"};

bool IsTrue(const std::map<std::string, std::string>& params,
            const std::string& key) {
  auto it = params.find(key);
  if (it == params.end()) return false;
  const std::string v = AsciiToLower(it->second);
  return v.empty() || v == "true" || v == "1" || v == "yes" || v == "on";
}

std::vector<std::string> StateList(const JailInstance& instance,
                                   const std::string& key) {
  std::vector<std::string> out;
  auto it = instance.backend_state.find(key);
  if (it == instance.backend_state.end()) return out;
  for (std::string_view line : Split(it->second, '\n')) {
    if (!line.empty()) out.emplace_back(line);
  }
  return out;
}

void StateAppend(JailInstance& instance, const std::string& key,
                 const std::string& value) {
  std::string& s = instance.backend_state[key];
  if (!s.empty()) s.push_back('\n');
  s.append(value);
}

// jib(8)'s names for a jail's epair: e0a_NAME on the host, e0b_NAME in
// the jail, NAME with dots as '_' and cut to fit IFNAMSIZ.
std::string EpairName(char side, const std::string& jail) {
  std::string n = StrCat("e0", std::string(1, side), "_", jail);
  std::ranges::replace(n, '.', '_');
  if (n.size() >= kIfNameMax) n.resize(kIfNameMax - 1);
  return n;
}

std::string JoinPath(const std::string& root, const std::string& inside) {
  if (inside.empty() || inside == "/") return root;
  std::string out = root;
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (inside.front() != '/') out.push_back('/');
  out.append(inside);
  return out;
}

}  // namespace

absl::Status FreeBsdJailRuntime::Ifconfig(int jid,
                                          const std::vector<std::string>& argv) {
  ExecRequest req;
  req.argv = argv;
  ExecResult res;
  if (kernel_.RunCommand(jid, req, res) != 0) {
    const int e = errno;
    return ErrnoStatus(e, Join(argv, " "));
  }
  if (!res.ok()) {
    return absl::FailedPreconditionError(
        StrCat(Join(argv, " "), ": failed (exit status ", res.exit_code,
               res.term_signal != 0 ? StrCat(", signal ", res.term_signal) : "",
               ")"));
  }
  return absl::OkStatus();
}

absl::Status FreeBsdJailRuntime::MakeEpair(const JailSpec& spec, JailInstance& instance) {
  if (instance.backend_state.contains(kStateEpairJail)) return absl::OkStatus();  // done
  std::string jail_end = EpairName('b', spec.name);
  if (auto it = spec.parameters.find("vnet.interface"); it != spec.parameters.end()) {
    jail_end = it->second;
  }
  const std::string host_end = EpairName('a', spec.name);
  if (jail_end.empty() || jail_end.size() >= kIfNameMax || jail_end == host_end) {
    return absl::InvalidArgumentError(
        StrCat("vnet.interface \"", jail_end, "\": an interface name of 1 to ",
               kIfNameMax - 1, " bytes other than ", host_end));
  }
  std::string created;
  if (kernel_.IfCreate("epair", created) != 0) {
    const int e = errno;
    return ErrnoStatus(e, "create an epair (SIOCIFCREATE2)");
  }
  // Recorded at once: from here on Teardown destroys it, whatever fails.
  instance.backend_state[kStateEpairHost] = created;
  std::string peer = created;
  peer.back() = 'b';
  for (const auto& [from, to] : {std::pair{peer, jail_end}, std::pair{created, host_end}}) {
    if (kernel_.IfRename(from, to) != 0) {
      const int e = errno;
      return ErrnoStatus(e, StrCat("rename ", from, " to ", to, " (SIOCSIFNAME)"));
    }
    if (from == created) instance.backend_state[kStateEpairHost] = to;
  }
  instance.backend_state[kStateEpairJail] = jail_end;
  return absl::OkStatus();
}

absl::Status FreeBsdJailRuntime::Mount(
    JailInstance& instance, const std::string& fstype, const std::string& from,
    const std::string& fspath, bool read_only,
    const std::vector<std::pair<std::string, std::string>>& opts) {
  // The iovec list mount(8) builds (build_iovec): NUL-terminated names and
  // values, a NULL value for a flag option, an errmsg buffer last.
  std::vector<std::string> strings;
  strings.reserve(2 * (opts.size() + 4));
  std::vector<std::pair<int, int>> pairs;  // indices into strings, -1 = NULL
  auto add = [&](const std::string& name, const std::string* value) {
    strings.push_back(name);
    const int n = static_cast<int>(strings.size()) - 1;
    int v = -1;
    if (value != nullptr) {
      strings.push_back(*value);
      v = static_cast<int>(strings.size()) - 1;
    }
    pairs.emplace_back(n, v);
  };
  add("fstype", &fstype);
  add("fspath", &fspath);
  if (!from.empty()) add(fstype == "nullfs" ? "target" : "from", &from);
  if (read_only) add("ro", nullptr);
  for (const auto& [k, v] : opts) add(k, v.empty() ? nullptr : &v);
  char errmsg[255] = {};
  std::vector<struct iovec> iov;
  iov.reserve(2 * pairs.size() + 2);
  for (const auto& [n, v] : pairs) {
    iov.push_back({strings[n].data(), strings[n].size() + 1});
    if (v < 0) {
      iov.push_back({nullptr, 0});
    } else {
      iov.push_back({strings[v].data(), strings[v].size() + 1});
    }
  }
  static char kErrmsgName[] = "errmsg";
  iov.push_back({kErrmsgName, sizeof kErrmsgName});
  iov.push_back({errmsg, sizeof errmsg});
  if (kernel_.Nmount(iov.data(), static_cast<unsigned int>(iov.size()),
                     read_only ? kMntRdonly : 0) != 0) {
    const int e = errno;
    return ErrnoStatus(e, StrCat("nmount(", fstype, " ", from.empty() ? "" : from,
                                 from.empty() ? "" : " ", fspath, ")",
                                 errmsg[0] != '\0' ? StrCat(": ", errmsg) : ""));
  }
  StateAppend(instance, kStateMounts, fspath);
  return absl::OkStatus();
}

absl::Status FreeBsdJailRuntime::Prepare(const JailSpec& spec,
                                         JailInstance& instance) {
  if (spec.path.empty() || spec.path.front() != '/') {
    return absl::InvalidArgumentError(
        StrCat("path ", spec.path, ": not an absolute pathname"));
  }
  instance.ref.name = spec.name;
  instance.ref.parent = ParentName(spec.name);
  if (auto it = spec.parameters.find("exec.consolelog"); it != spec.parameters.end()) {
    if (it->second.empty() || it->second.front() != '/') {
      return absl::InvalidArgumentError(
          StrCat("exec.consolelog ", it->second, ": not an absolute pathname"));
    }
    instance.backend_state[kStateConsolelog] = it->second;
  }
  // Step 1 (jib-style vnet): an epair, its ends named for the jail.
  if (spec.network.mode == NetworkMode::kVnet && spec.network.interface.empty()) {
    JW_RETURN_IF_ERROR(MakeEpair(spec, instance));
  }
  // Files copied into the root, each written atomically below it.
  for (const CopySpec& c : spec.copies) {
    JW_RETURN_IF_ERROR(CopyIntoRoot(spec.path, c.source, c.target));
  }
  // Step 2: IPv4 then IPv6 aliases, only where jail(8) adds them: an
  // `interface` or an "iface|addr" form, and not for a vnet jail.
  if (spec.network.mode != NetworkMode::kVnet) {
    for (bool v6 : {false, true}) {
      const std::vector<std::string>& addrs =
          v6 ? spec.network.ip6_addresses : spec.network.ip4_addresses;
      for (const std::string& a : addrs) {
        absl::StatusOr<IpSpec> ip = ParseIp(a, v6);
        if (!ip.ok()) return ip.status();
        const std::string iface =
            ip->iface.empty() ? spec.network.interface : ip->iface;
        if (iface.empty()) continue;
        const std::string recorded = StrCat(iface, "|", ip->addr,
                                            ip->mask.empty() ? "" : "/", ip->mask);
        if (std::ranges::count(StateList(instance, v6 ? kStateIp6 : kStateIp4),
                               recorded) > 0) {
          continue;  // idempotent: done by an earlier Prepare
        }
        JW_RETURN_IF_ERROR(
            Ifconfig(0, AliasArgv(options_.ifconfig, iface, *ip, v6, false)));
        StateAppend(instance, v6 ? kStateIp6 : kStateIp4, recorded);
      }
    }
  }
  // Steps 3-7: mounts, in jail(8)'s order.
  const std::vector<std::string> done = StateList(instance, kStateMounts);
  auto mounted = [&](const std::string& fspath) {
    return std::ranges::count(done, fspath) > 0;
  };
  if (!spec.base_root.empty()) {
    for (const char* dir : kBaseDirs) {
      const std::string fspath = JoinPath(spec.path, dir);
      if (mounted(fspath)) continue;
      JW_RETURN_IF_ERROR(Mount(instance, "nullfs", JoinPath(spec.base_root, dir),
                               fspath, /*read_only=*/true, {}));
    }
  }
  for (const MountSpec& m : spec.mounts) {
    const std::string fspath = JoinPath(spec.path, m.target);
    if (mounted(fspath)) continue;
    std::vector<std::pair<std::string, std::string>> opts;
    bool ro = m.read_only;
    for (std::string_view o : Split(m.options, ',')) {
      if (o.empty()) continue;
      const std::size_t eq = o.find('=');
      const std::string key(o.substr(0, eq));
      if (key == "ro" || key == "rdonly") {
        ro = true;
        continue;
      }
      if (key == "rw") continue;
      opts.emplace_back(key, eq == std::string_view::npos
                                 ? std::string()
                                 : std::string(o.substr(eq + 1)));
    }
    JW_RETURN_IF_ERROR(Mount(instance, m.fstype,
                             m.source.empty() ? m.fstype : m.source, fspath, ro,
                             opts));
  }
  if (IsTrue(spec.parameters, "mount.devfs")) {
    const std::string fspath = JoinPath(spec.path, "/dev");
    if (!mounted(fspath)) {
      std::string ruleset = StrCat(options_.default_devfs_ruleset);
      if (auto it = spec.parameters.find("devfs_ruleset");
          it != spec.parameters.end() && !it->second.empty()) {
        ruleset = it->second;
      }
      JW_RETURN_IF_ERROR(
          Mount(instance, "devfs", "devfs", fspath, false, {{"ruleset", ruleset}}));
    }
  }
  if (IsTrue(spec.parameters, "mount.fdescfs")) {
    const std::string fspath = JoinPath(spec.path, "/dev/fd");
    if (!mounted(fspath)) {
      JW_RETURN_IF_ERROR(Mount(instance, "fdescfs", "fdesc", fspath, false, {}));
    }
  }
  if (IsTrue(spec.parameters, "mount.procfs")) {
    const std::string fspath = JoinPath(spec.path, "/proc");
    if (!mounted(fspath)) {
      JW_RETURN_IF_ERROR(Mount(instance, "procfs", "proc", fspath, false, {}));
    }
  }
  return absl::OkStatus();
}

absl::Status FreeBsdJailRuntime::AttachNetwork(const JailSpec& spec,
                                               JailInstance& instance) {
  const NetworkSpec& net = spec.network;
  if (net.mode != NetworkMode::kVnet) return absl::OkStatus();
  auto epair_jail = instance.backend_state.find(kStateEpairJail);
  std::string iface = net.interface;
  std::string host_end;
  if (epair_jail != instance.backend_state.end()) {
    // SIOCSIFVNET: the epair's jail end into the jail's vnet.
    iface = epair_jail->second;
    host_end = instance.backend_state[kStateEpairHost];
    if (kernel_.IfMoveToJail(iface, static_cast<int>(instance.ref.jid)) != 0) {
      const int e = errno;
      return ErrnoStatus(e, StrCat("move ", iface, " into jail ", spec.name, " (SIOCSIFVNET)"));
    }
  } else if (iface.empty()) {
    return absl::FailedPreconditionError(
        StrCat("jail ", spec.name, ": vnet without an epair (Prepare made none)"));
  } else {
    // IP_VNET_INTERFACE: ifconfig IFACE vnet JID.
    JW_RETURN_IF_ERROR(Ifconfig(0, {options_.ifconfig, iface, "vnet",
                                    StrCat(instance.ref.jid)}));
    // An epair's host end is the same name ending in 'a'.
    if (iface.back() == 'b') {
      host_end = iface;
      host_end.back() = 'a';
    }
  }
  instance.backend_state[kStateVnetIface] = iface;
  for (bool v6 : {false, true}) {
    for (const std::string& a : v6 ? net.ip6_addresses : net.ip4_addresses) {
      absl::StatusOr<IpSpec> ip = ParseIp(a, v6);
      if (!ip.ok()) return ip.status();
      JW_RETURN_IF_ERROR(Ifconfig(
          instance.ref.jid, AliasArgv(options_.ifconfig, iface, *ip, v6, false)));
    }
  }
  if (!net.host_ip4.empty() && !host_end.empty()) {
    absl::StatusOr<IpSpec> ip = ParseIp(net.host_ip4, false);
    if (!ip.ok()) return ip.status();
    JW_RETURN_IF_ERROR(
        Ifconfig(0, AliasArgv(options_.ifconfig, host_end, *ip, false, false)));
    instance.backend_state[kStateVnetHostAlias] =
        StrCat(host_end, "|", net.host_ip4);
  }
  return absl::OkStatus();
}

absl::Status FreeBsdJailRuntime::Teardown(const JailSpec& spec,
                                          JailInstance& instance) {
  (void)spec;  // backend_state says what was done, also after a restart
  absl::Status first;
  auto note = [&](absl::Status s) {
    if (!s.ok() && first.ok()) first = std::move(s);
  };
  // Unmount in reverse: procfs, fdescfs, devfs, fstab, mount, base.
  std::vector<std::string> mounts = StateList(instance, kStateMounts);
  std::vector<std::string> left;
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    if (kernel_.Unmount(it->c_str(), 0) != 0) {
      const int e = errno;
      if (e != EINVAL && e != ENOENT) {  // not mounted any more: fine
        note(ErrnoStatus(e, StrCat("unmount(", *it, ")")));
        left.insert(left.begin(), *it);
      }
    }
  }
  instance.backend_state.erase(kStateMounts);
  for (const std::string& m : left) StateAppend(instance, kStateMounts, m);
  if (auto it = instance.backend_state.find(kStateVnetHostAlias);
      it != instance.backend_state.end()) {
    const std::size_t bar = it->second.find('|');
    absl::StatusOr<IpSpec> ip = ParseIp(it->second.substr(bar + 1), false);
    if (ip.ok()) {
      absl::Status s = Ifconfig(
          0, AliasArgv(options_.ifconfig, it->second.substr(0, bar), *ip, false, true));
      if (!s.ok()) LogWarning("removing vnet host alias failed", {{"error", s.ToString()}});
    }
    instance.backend_state.erase(it);
  }
  instance.backend_state.erase(kStateVnetIface);  // returns with the vnet
  // jib destroy: the host end takes the jail end with it (wherever it is).
  if (auto it = instance.backend_state.find(kStateEpairHost);
      it != instance.backend_state.end()) {
    bool gone = kernel_.IfDestroy(it->second) == 0;
    if (!gone) {
      const int e = errno;
      gone = e == ENXIO;  // already destroyed
      if (!gone) note(ErrnoStatus(e, StrCat("destroy ", it->second, " (SIOCIFDESTROY)")));
    }
    if (gone) {
      instance.backend_state.erase(kStateEpairHost);
      instance.backend_state.erase(kStateEpairJail);
    }
  }
  // Aliases: IPv6 first, then IPv4 (stopcommands[]). An alias already
  // gone makes ifconfig fail; that is logged, not fatal.
  for (bool v6 : {true, false}) {
    const char* key = v6 ? kStateIp6 : kStateIp4;
    for (const std::string& rec : StateList(instance, key)) {
      const std::size_t bar = rec.find('|');
      absl::StatusOr<IpSpec> ip = ParseIp(rec.substr(bar + 1), v6);
      if (!ip.ok()) continue;
      absl::Status s =
          Ifconfig(0, AliasArgv(options_.ifconfig, rec.substr(0, bar), *ip, v6, true));
      if (!s.ok()) {
        if (absl::IsFailedPrecondition(s)) {
          LogWarning("removing address alias failed", {{"alias", rec},
                                                       {"error", s.ToString()}});
        } else {
          note(s);
        }
      }
    }
    instance.backend_state.erase(key);
  }
  return first;
}

}  // namespace jailwarden::platform
