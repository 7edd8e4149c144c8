// FreeBsdJailRuntime's lifecycle: the jail itself (jail_setv create and
// nopersist, jail_getv, jail_remove), commands run in it, and its
// processes. The host-side steps around it (aliases, mounts, vnet) are in
// jail_runtime_setup.cc.

#include "jailwarden/platform/freebsd/jail_runtime.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/freebsd/main_host.h"
#include "platform/freebsd/jail8_forms.h"
#include "platform/freebsd/main_host_wire.h"

namespace jailwarden::platform {
namespace {

constexpr char kStateTempPersist[] = "temporary_persist";

// jail(8) parameters that jail(8) itself acts on and never hands to the
// kernel (usr.sbin/jail/jail.c intparams), plus jailwarden's own keys and
// the Linux backend's (linux.*), which a shared policy may carry.
bool IsPseudoParameter(std::string_view name) {
  static const std::set<std::string, std::less<>> kPseudo = {
      "command", "depend", "interface", "ip_hostname", "stop.timeout",
      "vnet.interface", "allow.dying", "zfs.dataset", "mount", "mount.fstab",
      "mount.devfs", "mount.fdescfs", "mount.procfs", "devfs_ruleset.mount"};
  return kPseudo.contains(name) || StartsWith(name, "exec.") || StartsWith(name, "linux.");
}

}  // namespace

FreeBsdJailRuntime::FreeBsdJailRuntime(FreeBsdKernel& kernel,
                                       FreeBsdJailRuntimeOptions options)
    : kernel_(kernel), options_(std::move(options)), launcher_(options_.main_launcher) {
  if (launcher_ == nullptr) {
#if defined(__FreeBSD__)
    absl::StatusOr<std::string> binary = SpawningMainLauncher::Find();
    if (binary.ok()) {
      launcher_ = std::make_shared<SpawningMainLauncher>(*binary);
    } else {
      LogWarning("command: cannot be supervised",
                 {{"error", std::string(binary.status().message())}});
    }
#else
    launcher_ = std::make_shared<InProcessMainLauncher>(kernel_);
#endif
  }
}

FreeBsdJailRuntime::~FreeBsdJailRuntime() = default;

std::string FreeBsdJailRuntime::MainSocket(const std::string& jail) const {
  return StrCat(options_.main_dir, "/", jail, ".sock");
}

std::string FreeBsdJailRuntime::MainRecord(const std::string& jail) const {
  return StrCat(options_.main_dir, "/", jail, ".status");
}

absl::StatusOr<MainProcessStatus> FreeBsdJailRuntime::AskMain(const std::string& jail,
                                                              const char* verb,
                                                              absl::Duration timeout) {
  if (options_.main_dir.empty()) {
    return absl::UnavailableError("no directory for main process hosts");
  }
  MainWireMessage m;
  m.verb = verb;
  return AskMainHost(MainSocket(jail), m, {}, timeout);
}

absl::StatusOr<MainProcessStatus> FreeBsdJailRuntime::StartMain(const JailInstance& instance,
                                                                const ExecRequest& request,
                                                                const MainSpec& spec,
                                                                const std::string& user) {
  const std::string& jail = instance.ref.name;
  if (options_.main_dir.empty()) {
    return absl::FailedPreconditionError("no directory for main process hosts (main_dir)");
  }
  if (launcher_ == nullptr) {
    return absl::FailedPreconditionError("jailwarden-supervise not found");
  }
  JW_RETURN_IF_ERROR(launcher_->Launch(jail, MainSocket(jail), MainRecord(jail)));
  MainStartRequest r;
  r.jail = jail;
  r.jid = static_cast<int>(instance.ref.jid);
  r.user = user;
  r.spec = spec;
  r.argv = request.argv;
  r.env = request.env;
  r.clean_env = request.clean_env;
  std::vector<int> fds;
  for (auto [fd, has] : {std::pair{request.stdin_fd, &r.has_stdin},
                         std::pair{request.stdout_fd, &r.has_stdout},
                         std::pair{request.stderr_fd, &r.has_stderr}}) {
    if (fd >= 0) {
      fds.push_back(fd);
      *has = true;
    }
  }
  return AskMainHost(MainSocket(jail), EncodeStart(r), fds, absl::Seconds(10));
}

absl::StatusOr<MainProcessStatus> FreeBsdJailRuntime::MainStatus(const JailInstance& instance) {
  absl::StatusOr<MainProcessStatus> st = AskMain(instance.ref.name, "status", absl::Seconds(2));
  if (st.ok() || st.status().code() != absl::StatusCode::kUnavailable) return st;
  // The host is gone: its last record, the exit it saw last.
  absl::StatusOr<std::string> text = ReadFile(MainRecord(instance.ref.name), kMainWireMax);
  if (!text.ok()) {
    return absl::FailedPreconditionError(StrCat("jail ", instance.ref.name,
                                                " has no main process (",
                                                std::string(st.status().message()), ")"));
  }
  absl::StatusOr<MainWireMessage> m = DecodeMainWire(*text);
  if (!m.ok()) return st;
  return DecodeAnswer(*m);
}

absl::StatusOr<MainProcessStatus> FreeBsdJailRuntime::StopMain(const JailInstance& instance,
                                                               absl::Duration timeout) {
  if (options_.main_dir.empty()) {
    return absl::FailedPreconditionError("no directory for main process hosts (main_dir)");
  }
  MainWireMessage m;
  m.verb = "stop";
  m.fields = {{"timeout_ns", StrCat(absl::ToInt64Nanoseconds(
                                 std::max(timeout, absl::ZeroDuration())))}};
  return AskMainHost(MainSocket(instance.ref.name), m, {},
                     std::max(timeout, absl::ZeroDuration()) + absl::Seconds(10));
}

absl::StatusOr<std::vector<JailParam>> FreeBsdJailRuntime::CreateParams(
    const JailSpec& spec, bool temporary_persist) {
  if (spec.path.empty() || spec.path.front() != '/') {
    return absl::InvalidArgumentError(
        StrCat("path ", spec.path, ": not an absolute pathname"));
  }
  std::vector<JailParam> p;
  p.push_back({"name", spec.name});
  p.push_back({"path", spec.path});
  p.push_back({"host.hostname", spec.hostname.empty() ? spec.name : spec.hostname});
  const NetworkSpec& net = spec.network;
  if (net.mode == NetworkMode::kVnet) {
    p.push_back({"vnet", "new"});
  } else {
    for (bool v6 : {false, true}) {
      const std::vector<std::string>& addrs = v6 ? net.ip6_addresses : net.ip4_addresses;
      std::vector<std::string> plain;
      for (const std::string& a : addrs) {
        absl::StatusOr<IpSpec> ip = ParseIp(a, v6);
        if (!ip.ok()) return ip.status();
        plain.push_back(ip->addr);
      }
      if (!plain.empty()) {
        // Setting an address implies ip4=new (jail(8) §11.4).
        p.push_back({v6 ? "ip6.addr" : "ip4.addr", Join(plain, ",")});
      } else {
        p.push_back({v6 ? "ip6" : "ip4",
                     net.mode == NetworkMode::kInherit ? "inherit" : "disable"});
      }
    }
  }
  for (const auto& [k, v] : spec.parameters) {
    if (IsPseudoParameter(k) || k == "name" || k == "path" || k == "persist" ||
        k == "host.hostname") {
      continue;
    }
    if (v.empty()) {
      p.push_back({k, std::nullopt});  // a boolean given by name
    } else {
      p.push_back({k, v});
    }
  }
  if (spec.persist || temporary_persist) p.push_back({"persist", std::nullopt});
  return p;
}

absl::Status FreeBsdJailRuntime::Create(const JailSpec& spec,
                                        JailInstance& instance) {
  // jail(8) create_jail: without persist the new jail would die before
  // exec.start runs, so a temporary persist holds it until ClearPersist.
  const bool temporary = !spec.persist;
  absl::StatusOr<std::vector<JailParam>> params = CreateParams(spec, temporary);
  if (!params.ok()) return params.status();
  // The manager hands out the JID before exec.prepare (hooks see it as
  // $JID); asking the kernel for exactly that one keeps the two equal, so
  // the JID in the state file, the hooks and rctl(8)'s jail:JID agree with
  // jls(8). A foreign jail (not ours) may hold it: then the kernel picks
  // one and `instance.ref.jid` says which.
  const int64_t wanted = instance.ref.jid;
  if (wanted > 0 && wanted <= kJailMaxJid) {
    params->insert(params->begin(), JailParam{"jid", StrCat(wanted)});
  }
  int jid = kernel_.JailSetv(kJailCreate, *params);
  int e = jid < 0 ? errno : 0;
  std::string msg = jid < 0 ? kernel_.JailErrmsg() : std::string();
  if (jid < 0 && e == EEXIST && wanted > 0 && JidHeldByOther(wanted, spec.name)) {
    LogWarning("jid held by a jail jailwarden does not manage; the kernel picks one",
               {{"jail", spec.name}, {"jid", StrCat(wanted)}});
    params->erase(params->begin());
    jid = kernel_.JailSetv(kJailCreate, *params);
    e = jid < 0 ? errno : 0;
    msg = jid < 0 ? kernel_.JailErrmsg() : std::string();
  }
  if (jid < 0) {
    return ErrnoStatus(e, StrCat("jail_setv(create, name=", spec.name, ")",
                                 msg.empty() ? "" : ": ", msg));
  }
  instance.ref.name = spec.name;
  instance.ref.parent = ParentName(spec.name);
  instance.ref.jid = jid;
  instance.ref.handle = static_cast<uint64_t>(jid);
  instance.started = options_.clock != nullptr ? options_.clock->Now() : absl::Now();
  if (temporary) {
    instance.backend_state[kStateTempPersist] = "1";
  } else {
    instance.backend_state.erase(kStateTempPersist);
  }
  return absl::OkStatus();
}

bool FreeBsdJailRuntime::JidHeldByOther(int64_t jid, const std::string& name) {
  std::vector<JailParam> params = {{"jid", StrCat(jid)}, {"name", std::nullopt}};
  if (kernel_.JailGetv(0, params) < 0) return false;
  return params[1].value != name;
}

absl::StatusOr<ExecResult> FreeBsdJailRuntime::Exec(const JailInstance& instance,
                                                    ExecWhere where,
                                                    const ExecRequest& request) {
  if (request.tty && where != ExecWhere::kJail) {
    return absl::InvalidArgumentError("exec: a terminal is for commands in a jail only");
  }
  const int jid = where == ExecWhere::kJail ? static_cast<int>(instance.ref.jid) : 0;
  ExecResult result;
  // exec.consolelog: output that would be discarded goes to the log file
  // instead, opened for each command as jail(8) does (append, created 0600).
  ExecRequest logged;
  const ExecRequest* req = &request;
  int log_fd = -1;
  if (auto it = instance.backend_state.find("consolelog");
      it != instance.backend_state.end() && !request.tty &&
      (request.stdout_fd < 0 || request.stderr_fd < 0)) {
    log_fd = open(it->second.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                  0600);
    if (log_fd < 0) {
      const int e = errno;
      return ErrnoStatus(e, StrCat("exec.consolelog ", it->second));
    }
    logged = request;
    if (logged.stdout_fd < 0) logged.stdout_fd = log_fd;
    if (logged.stderr_fd < 0) logged.stderr_fd = log_fd;
    req = &logged;
  }
  const int rc = kernel_.RunCommand(jid, *req, result);
  const int run_errno = errno;
  if (log_fd >= 0) close(log_fd);
  errno = run_errno;
  if (rc != 0) {
    const int e = errno;
    return ErrnoStatus(e, StrCat("run ", request.argv.empty() ? "" : request.argv[0],
                                 where == ExecWhere::kJail ? " in jail " : "",
                                 where == ExecWhere::kJail ? instance.ref.name : ""));
  }
  return result;
}

absl::StatusOr<int64_t> FreeBsdJailRuntime::Spawn(const JailInstance& instance,
                                                  const ExecRequest& request) {
  pid_t pid = 0;
  if (kernel_.SpawnCommand(static_cast<int>(instance.ref.jid), request, pid) != 0) {
    const int e = errno;
    return ErrnoStatus(e, StrCat("spawn ", request.argv.empty() ? "" : request.argv[0],
                                 " in jail ", instance.ref.name));
  }
  return static_cast<int64_t>(pid);
}

absl::Status FreeBsdJailRuntime::SignalAll(const JailInstance& instance,
                                           int host_signal) {
  std::vector<KinfoProc> procs;
  if (kernel_.KinfoGetallproc(procs) != 0) {
    const int e = errno;
    return ErrnoStatus(e, "kinfo_getallproc");
  }
  absl::Status first;
  for (const KinfoProc& p : procs) {
    if (p.jid != instance.ref.jid) continue;
    if (kernel_.Kill(p.pid, host_signal) != 0) {
      const int e = errno;
      if (e != ESRCH && first.ok()) {  // ESRCH: it exited meanwhile
        first = ErrnoStatus(e, StrCat("kill(", static_cast<int64_t>(p.pid), ", ",
                                      host_signal, ")"));
      }
    }
  }
  return first;
}

absl::StatusOr<int> FreeBsdJailRuntime::CountProcesses(const JailInstance& instance) {
  std::vector<KinfoProc> procs;
  if (kernel_.KinfoGetallproc(procs) != 0) {
    const int e = errno;
    return ErrnoStatus(e, "kinfo_getallproc");
  }
  return static_cast<int>(std::ranges::count_if(
      procs, [&](const KinfoProc& p) { return p.jid == instance.ref.jid; }));
}

absl::Status FreeBsdJailRuntime::Remove(JailInstance& instance) {
  if (instance.ref.jid <= 0) return absl::OkStatus();
  // Make sure the jid is still this jail: jids are reused.
  std::vector<JailParam> params = {{"jid", StrCat(instance.ref.jid)},
                                   {"name", std::nullopt}};
  if (kernel_.JailGetv(0, params) < 0) {
    const int e = errno;
    if (e == ENOENT) {  // already gone
      (void)AskMain(instance.ref.name, "quit", absl::Seconds(2));
      return absl::OkStatus();
    }
    return ErrnoStatus(e, StrCat("jail_getv(jid=", instance.ref.jid, "): ",
                                 kernel_.JailErrmsg()));
  }
  if (params[1].value != instance.ref.name) {
    LogWarning("jid now belongs to another jail; not removing",
               {{"jail", instance.ref.name},
                {"jid", StrCat(instance.ref.jid)},
                {"now", params[1].value.value_or("")}});
    (void)AskMain(instance.ref.name, "quit", absl::Seconds(2));  // ours is gone
    return absl::OkStatus();
  }
  if (kernel_.JailRemove(static_cast<int>(instance.ref.jid)) != 0) {
    const int e = errno;
    if (e != EINVAL) {
      return ErrnoStatus(e, StrCat("jail_remove(", instance.ref.jid, ")"));
    }
  }
  instance.backend_state.erase(kStateTempPersist);
  (void)AskMain(instance.ref.name, "quit", absl::Seconds(2));
  return absl::OkStatus();
}

absl::StatusOr<bool> FreeBsdJailRuntime::Adopt(JailInstance& instance) {
  std::vector<JailParam> params = {{"name", instance.ref.name},
                                   {"jid", std::nullopt},
                                   {"path", std::nullopt}};
  const int jid = kernel_.JailGetv(0, params);
  if (jid < 0) {
    const int e = errno;
    if (e == ENOENT) return false;
    return ErrnoStatus(e, StrCat("jail_getv(name=", instance.ref.name, "): ",
                                 kernel_.JailErrmsg()));
  }
  instance.ref.jid = jid;
  instance.ref.handle = static_cast<uint64_t>(jid);
  instance.ref.parent = ParentName(instance.ref.name);
  return true;
}

absl::Status FreeBsdJailRuntime::ClearPersist(JailInstance& instance) {
  auto it = instance.backend_state.find(kStateTempPersist);
  if (it == instance.backend_state.end()) return absl::OkStatus();
  // A configured main process holds the jail between its restarts.
  if (absl::StatusOr<MainProcessStatus> m = AskMain(instance.ref.name, "status", absl::Seconds(2));
      m.ok() && m->configured) {
    return absl::OkStatus();
  }
  // clear_persist: jail_setv(JAIL_UPDATE, "jid", jid, "nopersist", NULL).
  const int r = kernel_.JailSetv(
      kJailUpdate, {{"jid", StrCat(instance.ref.jid)}, {"nopersist", std::nullopt}});
  if (r < 0) {
    const int e = errno;
    if (e != ENOENT) {
      return ErrnoStatus(e, StrCat("jail_setv(update, jid=", instance.ref.jid,
                                   ", nopersist): ", kernel_.JailErrmsg()));
    }
  }
  instance.backend_state.erase(kStateTempPersist);
  return absl::OkStatus();
}

}  // namespace jailwarden::platform
