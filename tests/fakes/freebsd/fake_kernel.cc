#include "fakes/freebsd/fake_kernel.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::platform {
namespace {

using rctl::Resource;
using rctl::SubjectType;

// FreeBSD signal numbers the fake acts on (sys/sys/signal.h).
constexpr int kSigKill = 9;
constexpr int kSigTerm = 15;

enum class ParamType : uint8_t { kInt, kString, kBool, kJailsys, kIp4, kIp6, kReadOnly };

// The jail parameters the fake knows (jail(8) §11.4); anything else is
// "unknown parameter" as libjail says when security.jail.param has no
// such entry.
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

// "nopersist" -> ("persist", false); "allow.nomount" -> ("allow.mount",
// false): libjail accepts "no" before the last name component.
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

std::string Basename(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path
                                                     : path.substr(slash + 1));
}

int ErrnoOf(const absl::Status& status) {
  return StatusErrno(status).value_or(EINVAL);
}

std::string IovString(const struct iovec& v) {
  if (v.iov_base == nullptr || v.iov_len == 0) return {};
  const char* p = static_cast<const char*>(v.iov_base);
  return std::string(p, strnlen(p, v.iov_len));
}

}  // namespace

FakeFreeBsdKernel::FakeFreeBsdKernel() {
  absl::MutexLock lock(&mu_);
  FakeProcess self;
  self.pid = kSelfPid;
  self.comm = "jailwarden";
  processes_[kSelfPid] = self;
}

// --- configuration -----------------------------------------------------------

void FakeFreeBsdKernel::SetRacct(RacctSysctl form, bool enabled) {
  absl::MutexLock lock(&mu_);
  racct_form_ = form;
  racct_enabled_ = enabled && form != RacctSysctl::kMissing;
}
void FakeFreeBsdKernel::SetCallerUid(uid_t uid) {
  absl::MutexLock lock(&mu_);
  caller_uid_ = uid;
}
void FakeFreeBsdKernel::SetCallerJail(int jid) {
  absl::MutexLock lock(&mu_);
  caller_jail_ = jid;
}
void FakeFreeBsdKernel::SetMaxBufSize(std::size_t n) {
  absl::MutexLock lock(&mu_);
  maxbufsize_ = n;
}
void FakeFreeBsdKernel::SetNextJid(int jid) {
  absl::MutexLock lock(&mu_);
  last_jid_ = jid - 1;
}
void FakeFreeBsdKernel::AddInterface(const std::string& name) {
  absl::MutexLock lock(&mu_);
  interfaces_[name];
}
void FakeFreeBsdKernel::MarkPathMissing(const std::string& path) {
  absl::MutexLock lock(&mu_);
  missing_paths_.insert(path);
}
void FakeFreeBsdKernel::SetCommandHandler(CommandHandler handler) {
  absl::MutexLock lock(&mu_);
  handler_ = std::move(handler);
}
void FakeFreeBsdKernel::FailNext(Call call, int errnum, std::string errmsg,
                                 int count) {
  absl::MutexLock lock(&mu_);
  faults_[call] = Fault{errnum, std::move(errmsg), count};
}

// --- helpers -----------------------------------------------------------------

int FakeFreeBsdKernel::FailLocked(int errnum) {
  errno = errnum;
  return -1;
}

int FakeFreeBsdKernel::JailFailLocked(int errnum, std::string msg) {
  errmsg_ = std::move(msg);
  errno = errnum;
  return -1;
}

bool FakeFreeBsdKernel::TakeFaultLocked(Call call, int& errnum) {
  auto it = faults_.find(call);
  if (it == faults_.end() || it->second.count <= 0) return false;
  errnum = it->second.errnum;
  errmsg_ = it->second.errmsg;
  if (--it->second.count == 0) faults_.erase(it);
  return true;
}

bool FakeFreeBsdKernel::CallerIsRootLocked() const {
  return caller_uid_ == 0 && caller_jail_ == 0;
}

void FakeFreeBsdKernel::LogLocked(std::string entry) {
  calls_.push_back(std::move(entry));
}

FakePrison* FakeFreeBsdKernel::FindByNameLocked(const std::string& name) {
  for (auto& [jid, p] : prisons_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::vector<std::string> FakeFreeBsdKernel::PrisonChainLocked(int jid) const {
  std::vector<std::string> chain;
  for (int j = jid; j != 0;) {
    auto it = prisons_.find(j);
    if (it == prisons_.end()) break;
    chain.push_back(it->second.name);
    j = it->second.parent;
  }
  chain.push_back("0");  // prison0
  return chain;
}

rctl::UsageVector& FakeFreeBsdKernel::ContainerLocked(SubjectType s,
                                                      const std::string& id) {
  switch (s) {
    case SubjectType::kUser:
      return uid_racct_[static_cast<uid_t>(ParseInt<int64_t>(id).value_or(0))];
    case SubjectType::kLoginclass:
      return loginclass_racct_[id];
    case SubjectType::kJail:
    case SubjectType::kProcess:
    case SubjectType::kUndefined:
      break;
  }
  return prison_racct_[id];
}

void FakeFreeBsdKernel::AddToContainersLocked(const FakeProcess& p, Resource r,
                                              int64_t diff) {
  auto add = [&](rctl::UsageVector& v) {
    int64_t& x = v[rctl::Index(r)];
    x += diff;
    // racct_adjust_resource clamps sloppy resources at 0.
    if (x < 0 && rctl::IsSloppy(r)) x = 0;
  };
  add(uid_racct_[p.ruid]);
  add(loginclass_racct_[p.loginclass]);
  for (const std::string& name : PrisonChainLocked(p.jid)) {
    add(prison_racct_[name]);
  }
}

pid_t FakeFreeBsdKernel::NewProcessLocked(int jid, uid_t ruid, uid_t euid,
                                          std::string comm,
                                          std::string loginclass) {
  FakeProcess p;
  p.pid = next_pid_++;
  p.ppid = kSelfPid;
  p.jid = jid;
  p.ruid = ruid;
  p.euid = euid;
  p.comm = std::move(comm);
  p.loginclass = std::move(loginclass);
  processes_[p.pid] = p;
  FakeProcess& stored = processes_[p.pid];
  // racct_proc_fork: NPROC += 1, NTHR += 1.
  for (Resource r : {Resource::kMaxproc, Resource::kNthr}) {
    stored.usage[rctl::Index(r)] = 1;
    AddToContainersLocked(stored, r, 1);
  }
  return p.pid;
}

void FakeFreeBsdKernel::ExitLocked(pid_t pid) {
  auto it = processes_.find(pid);
  if (it == processes_.end()) return;
  FakeProcess& p = it->second;
  // racct_proc_exit: every reclaimable resource back to 0.
  for (std::size_t i = 0; i < rctl::kResourceCount; ++i) {
    const Resource r = rctl::ResourceAt(i);
    if (rctl::IsReclaimable(r) && p.usage[i] != 0) {
      AddToContainersLocked(p, r, -p.usage[i]);
      p.usage[i] = 0;
    }
  }
  // rctl_racct_release: the process's own rules go with it.
  rctl::Rule own;
  own.subject = SubjectType::kProcess;
  own.subject_id = StrCat(static_cast<int64_t>(pid));
  (void)rules_.Remove(own);
  const int jid = p.jid;
  processes_.erase(it);
  MaybeDieLocked(jid);
}

void FakeFreeBsdKernel::MaybeDieLocked(int jid) {
  while (jid != 0) {
    auto it = prisons_.find(jid);
    if (it == prisons_.end() || it->second.persist) return;
    for (const auto& [pid, p] : processes_) {
      if (p.jid == jid) return;
    }
    for (const auto& [j, child] : prisons_) {
      if (child.parent == jid) return;
    }
    const int parent = it->second.parent;
    prisons_.erase(it);
    jid = parent;  // a parent without persist held only by this child dies too
  }
}

void FakeFreeBsdKernel::RemovePrisonLocked(int jid) {
  std::vector<int> children;
  for (const auto& [j, p] : prisons_) {
    if (p.parent == jid) children.push_back(j);
  }
  for (int child : children) RemovePrisonLocked(child);
  std::vector<pid_t> victims;
  for (const auto& [pid, p] : processes_) {
    if (p.jid == jid) victims.push_back(pid);
  }
  auto it = prisons_.find(jid);
  if (it != prisons_.end()) it->second.persist = true;  // die once, below
  for (pid_t pid : victims) {
    processes_[pid].signals.push_back(kSigKill);
    ExitLocked(pid);
  }
  prisons_.erase(jid);
}

int FakeFreeBsdKernel::AllocJidLocked() {
  // kern_jail.c get_next_prid: after lastprid, wrapping at JAIL_MAX.
  for (int tries = 0; tries < kJailMaxJid; ++tries) {
    ++last_jid_;
    if (last_jid_ > kJailMaxJid) last_jid_ = 1;
    if (!prisons_.contains(last_jid_)) return last_jid_;
  }
  return -1;
}

// --- processes and usage -----------------------------------------------------

pid_t FakeFreeBsdKernel::AddProcess(int jid, uid_t ruid, uid_t euid,
                                    std::string comm, std::string loginclass) {
  absl::MutexLock lock(&mu_);
  if (jid != 0 && !prisons_.contains(jid)) return -1;
  return NewProcessLocked(jid, ruid, euid, std::move(comm),
                          std::move(loginclass));
}

pid_t FakeFreeBsdKernel::Fork(pid_t parent) {
  absl::MutexLock lock(&mu_);
  auto it = processes_.find(parent);
  if (it == processes_.end()) return -1;
  const FakeProcess par = it->second;
  const pid_t child = NewProcessLocked(par.jid, par.ruid, par.euid, par.comm,
                                       par.loginclass);
  FakeProcess& c = processes_[child];
  c.ppid = parent;
  for (std::size_t i = 0; i < rctl::kResourceCount; ++i) {
    const Resource r = rctl::ResourceAt(i);
    if (rctl::IsInheritable(r) && par.usage[i] != 0) {
      c.usage[i] = par.usage[i];
      AddToContainersLocked(c, r, par.usage[i]);
    }
  }
  // rctl_proc_fork: process rules are duplicated with the child's pid.
  rctl::Rule own;
  own.subject = SubjectType::kProcess;
  own.subject_id = StrCat(static_cast<int64_t>(parent));
  for (rctl::Rule r : rules_.List(own)) {
    r.subject_id = StrCat(static_cast<int64_t>(child));
    (void)rules_.Add(std::move(r));
  }
  return child;
}

void FakeFreeBsdKernel::SetIgnoresSigterm(pid_t pid, bool ignores) {
  absl::MutexLock lock(&mu_);
  if (auto it = processes_.find(pid); it != processes_.end()) {
    it->second.ignores_sigterm = ignores;
  }
}

void FakeFreeBsdKernel::ExitProcess(pid_t pid) {
  absl::MutexLock lock(&mu_);
  ExitLocked(pid);
}

void FakeFreeBsdKernel::SetProcessUsage(pid_t pid, Resource r, int64_t value) {
  absl::MutexLock lock(&mu_);
  auto it = processes_.find(pid);
  if (it == processes_.end()) return;
  int64_t& cur = it->second.usage[rctl::Index(r)];
  const int64_t diff = value - cur;
  cur = value;
  AddToContainersLocked(it->second, r, diff);
}

void FakeFreeBsdKernel::SetContainerUsage(SubjectType subject,
                                          const std::string& id, Resource r,
                                          int64_t value) {
  absl::MutexLock lock(&mu_);
  ContainerLocked(subject, id)[rctl::Index(r)] = value;
}

// --- inspection --------------------------------------------------------------

std::vector<std::string> FakeFreeBsdKernel::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}
void FakeFreeBsdKernel::ClearCalls() {
  absl::MutexLock lock(&mu_);
  calls_.clear();
}
std::optional<FakePrison> FakeFreeBsdKernel::PrisonByName(
    const std::string& name) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [jid, p] : prisons_) {
    if (p.name == name) return p;
  }
  return std::nullopt;
}
std::optional<FakePrison> FakeFreeBsdKernel::PrisonByJid(int jid) const {
  absl::MutexLock lock(&mu_);
  auto it = prisons_.find(jid);
  if (it == prisons_.end()) return std::nullopt;
  return it->second;
}
std::vector<FakePrison> FakeFreeBsdKernel::Prisons() const {
  absl::MutexLock lock(&mu_);
  std::vector<FakePrison> out;
  for (const auto& [jid, p] : prisons_) out.push_back(p);
  return out;
}
std::optional<FakeProcess> FakeFreeBsdKernel::Process(pid_t pid) const {
  absl::MutexLock lock(&mu_);
  auto it = processes_.find(pid);
  if (it == processes_.end()) return std::nullopt;
  return it->second;
}
std::vector<pid_t> FakeFreeBsdKernel::ProcessesInJail(int jid) const {
  absl::MutexLock lock(&mu_);
  std::vector<pid_t> out;
  for (const auto& [pid, p] : processes_) {
    if (p.jid == jid) out.push_back(pid);
  }
  return out;
}
std::vector<FakeMount> FakeFreeBsdKernel::Mounts() const {
  absl::MutexLock lock(&mu_);
  return mounts_;
}
std::vector<std::string> FakeFreeBsdKernel::Aliases(
    const std::string& iface) const {
  absl::MutexLock lock(&mu_);
  auto it = interfaces_.find(iface);
  if (it == interfaces_.end()) return {};
  return it->second.second;
}
int FakeFreeBsdKernel::InterfaceJail(const std::string& iface) const {
  absl::MutexLock lock(&mu_);
  auto it = interfaces_.find(iface);
  return it == interfaces_.end() ? -1 : it->second.first;
}
std::vector<std::string> FakeFreeBsdKernel::Rules() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const rctl::Rule& r : rules_.rules()) out.push_back(rctl::FormatRule(r));
  return out;
}
int FakeFreeBsdKernel::RacctCalls() const {
  absl::MutexLock lock(&mu_);
  return racct_calls_;
}

// --- libjail -------------------------------------------------------------------

int FakeFreeBsdKernel::JailSetv(int flags, const std::vector<JailParam>& params) {
  absl::MutexLock lock(&mu_);
  {
    std::string entry = StrCat("jail_setv(", (flags & kJailCreate) ? "create" : "",
                               (flags & kJailCreate) && (flags & kJailUpdate) ? "|" : "",
                               (flags & kJailUpdate) ? "update" : "",
                               (flags & kJailAttach) ? "|attach" : "", ")");
    for (const JailParam& p : params) {
      StrAppend(&entry, " ", p.name);
      if (p.value.has_value()) StrAppend(&entry, "=", *p.value);
    }
    LogLocked(std::move(entry));
  }
  errmsg_.clear();
  int fault = 0;
  if (TakeFaultLocked(Call::kJailSetv, fault)) return FailLocked(fault);
  // libjail first converts every parameter (jailparam_init/import).
  struct Value {
    ParamType type;
    std::string text;
    bool flag = true;
  };
  std::map<std::string, Value> set;
  std::vector<std::string> order;
  for (const JailParam& p : params) {
    auto [name, positive] = SplitNoPrefix(p.name);
    std::optional<ParamType> type = LookupParam(name);
    if (!type.has_value() || *type == ParamType::kReadOnly || name == "lastjid") {
      return JailFailLocked(ENOENT, StrCat("unknown parameter: ", p.name));
    }
    Value v{*type, p.value.value_or(""), positive};
    switch (*type) {
      case ParamType::kBool:
        if (p.value.has_value()) {
          if (*p.value == "true" || *p.value == "1") {
            v.flag = positive;
          } else if (*p.value == "false" || *p.value == "0") {
            v.flag = !positive;
          } else {
            return JailFailLocked(EINVAL, StrCat(p.name, ": unknown boolean value \"",
                                                 *p.value, "\""));
          }
        }
        break;
      case ParamType::kInt:
        if (!ParseInt<int64_t>(v.text).has_value()) {
          return JailFailLocked(EINVAL, StrCat(p.name, ": non-integer value \"",
                                               v.text, "\""));
        }
        break;
      case ParamType::kJailsys:
        if (v.text != "new" && v.text != "inherit" && v.text != "disable") {
          return JailFailLocked(EINVAL, StrCat(p.name, ": unknown value \"",
                                               v.text, "\""));
        }
        break;
      case ParamType::kIp4:
      case ParamType::kIp6:
        for (std::string_view a : Split(v.text, ',')) {
          if (a.empty() && v.text.empty()) break;
          unsigned char buf[16];
          const std::string addr(a);
          const int af = *type == ParamType::kIp4 ? AF_INET : AF_INET6;
          if (inet_pton(af, addr.c_str(), buf) != 1) {
            return JailFailLocked(
                EINVAL, StrCat(p.name, ": not an ",
                               *type == ParamType::kIp4 ? "IPv4" : "IPv6",
                               " address: ", addr));
          }
        }
        break;
      case ParamType::kString:
      case ParamType::kReadOnly:
        break;
    }
    if (!set.contains(name)) order.push_back(name);
    set[name] = v;
  }

  // kern_jail_set.
  if (!CallerIsRootLocked()) return JailFailLocked(EPERM, "");
  if ((flags & ~kJailSetMask) != 0) return JailFailLocked(EINVAL, "");
  const int cu = flags & (kJailCreate | kJailUpdate);
  if (cu == 0) return JailFailLocked(EINVAL, "");

  int64_t jid = 0;
  if (auto it = set.find("jid"); it != set.end()) {
    jid = *ParseInt<int64_t>(it->second.text);
    if (jid < 0) return JailFailLocked(EINVAL, "negative jid");
    if (jid > kJailMaxJid) {
      return JailFailLocked(EINVAL, StrCat("jid ", jid, " is out of range"));
    }
  }
  std::optional<std::string> name;
  if (auto it = set.find("name"); it != set.end()) name = it->second.text;
  if (name.has_value()) {
    if (name->empty()) return JailFailLocked(EINVAL, "name cannot be empty");
    const std::size_t dot = name->rfind('.');
    const std::string last = dot == std::string::npos ? *name : name->substr(dot + 1);
    if (ParseInt<int64_t>(last).has_value() &&
        ParseInt<int64_t>(last).value() != jid) {
      return JailFailLocked(EINVAL, "name cannot be numeric (unless it is the jid)");
    }
  }
  if (auto it = set.find("path"); it != set.end()) {
    if (missing_paths_.contains(it->second.text)) {
      return JailFailLocked(ENOENT, StrCat("path ", it->second.text,
                                           ": No such file or directory"));
    }
  }

  FakePrison* pr = nullptr;
  if (jid != 0) {
    auto it = prisons_.find(static_cast<int>(jid));
    if (it != prisons_.end()) {
      if (!(flags & kJailUpdate)) {
        return JailFailLocked(EEXIST, StrCat("jail ", jid, " already exists"));
      }
      pr = &it->second;
    } else if (!(flags & kJailCreate)) {
      return JailFailLocked(ENOENT, StrCat("jail ", jid, " not found"));
    }
  } else if (name.has_value()) {
    pr = FindByNameLocked(*name);
    if (pr != nullptr && !(flags & kJailUpdate)) {
      return JailFailLocked(EEXIST, StrCat("jail \"", *name, "\" already exists"));
    }
    if (pr == nullptr && !(flags & kJailCreate)) {
      return JailFailLocked(ENOENT, StrCat("jail \"", *name, "\" not found"));
    }
  } else if (!(flags & kJailCreate)) {
    return JailFailLocked(ENOENT, "no jail specified");
  }

  const bool creating = pr == nullptr;
  FakePrison fresh;
  if (creating) {
    // A dotted name is a child of the jail named by its prefix.
    int parent = 0;
    if (name.has_value()) {
      const std::size_t dot = name->rfind('.');
      if (dot != std::string::npos) {
        const std::string pname = name->substr(0, dot);
        FakePrison* pp = FindByNameLocked(pname);
        if (pp == nullptr) {
          return JailFailLocked(ENOENT, StrCat("jail \"", pname, "\" not found"));
        }
        int cur = 0;
        for (const auto& [j, c] : prisons_) {
          if (c.parent == pp->jid) ++cur;
        }
        auto cm = pp->params.find("children.max");
        const int64_t max = cm == pp->params.end()
                                ? 0
                                : ParseInt<int64_t>(cm->second).value_or(0);
        if (cur >= max) return JailFailLocked(EPERM, "prison limit exceeded");
        parent = pp->jid;
      }
    }
    if (jid == 0) {
      const int j = AllocJidLocked();
      if (j < 0) return JailFailLocked(EAGAIN, "no available jail IDs");
      jid = j;
    }
    fresh.jid = static_cast<int>(jid);
    fresh.parent = parent;
    fresh.name = name.value_or(StrCat(jid));
    pr = &fresh;
  }

  for (const std::string& key : order) {
    const Value& v = set[key];
    if (key == "jid" || key == "name") continue;
    if (key == "path") {
      pr->path = v.text;
    } else if (key == "persist") {
      pr->persist = v.flag;
    } else if (key == "vnet") {
      pr->vnet = v.text == "new";
    } else if (key == "ip4.addr") {
      pr->ip4.clear();
      for (std::string_view a : Split(v.text, ',')) {
        if (!a.empty()) pr->ip4.emplace_back(a);
      }
    } else if (key == "ip6.addr") {
      pr->ip6.clear();
      for (std::string_view a : Split(v.text, ',')) {
        if (!a.empty()) pr->ip6.emplace_back(a);
      }
    } else if (v.type == ParamType::kBool) {
      pr->params[key] = v.flag ? "true" : "false";
    } else {
      pr->params[key] = v.text;
    }
  }
  const int result = pr->jid;
  if (creating) prisons_[result] = std::move(fresh);
  if (flags & kJailAttach) processes_[kSelfPid].jid = result;
  // Without persist and without processes the new or updated jail dies at
  // once (prison_deref); jail_set still returns its jid.
  MaybeDieLocked(result);
  return result;
}

int FakeFreeBsdKernel::JailGetv(int flags, std::vector<JailParam>& params) {
  absl::MutexLock lock(&mu_);
  {
    std::string entry = "jail_getv(";
    for (const JailParam& p : params) {
      if (p.value.has_value()) StrAppend(&entry, p.name, "=", *p.value);
    }
    entry.push_back(')');
    LogLocked(std::move(entry));
  }
  errmsg_.clear();
  int fault = 0;
  if (TakeFaultLocked(Call::kJailGetv, fault)) return FailLocked(fault);
  if ((flags & ~kJailGetMask) != 0) return JailFailLocked(EINVAL, "");
  for (const JailParam& p : params) {
    if (!LookupParam(SplitNoPrefix(p.name).first).has_value()) {
      return JailFailLocked(ENOENT, StrCat("unknown parameter: ", p.name));
    }
  }
  // The key, as libjail's jail_getv picks it: lastjid, a non-zero jid, or
  // a name.
  const FakePrison* pr = nullptr;
  bool keyed = false;
  for (const JailParam& p : params) {
    if (!p.value.has_value()) continue;
    if (p.name == "lastjid") {
      const std::optional<int64_t> last = ParseInt<int64_t>(*p.value);
      if (!last.has_value()) {
        return JailFailLocked(EINVAL, StrCat("lastjid: non-integer value \"",
                                             *p.value, "\""));
      }
      auto it = prisons_.upper_bound(static_cast<int>(*last));
      if (it == prisons_.end()) {
        return JailFailLocked(ENOENT, StrCat("no jail after ", *last));
      }
      pr = &it->second;
      keyed = true;
      break;
    }
    if (p.name == "jid") {
      const int64_t jid = ParseInt<int64_t>(*p.value).value_or(0);
      if (jid == 0) continue;
      auto it = prisons_.find(static_cast<int>(jid));
      if (it == prisons_.end()) {
        return JailFailLocked(ENOENT, StrCat("jail ", jid, " not found"));
      }
      pr = &it->second;
      keyed = true;
      break;
    }
    if (p.name == "name" && !p.value->empty()) {
      pr = FindByNameLocked(*p.value);
      if (pr == nullptr) {
        return JailFailLocked(ENOENT, StrCat("jail \"", *p.value, "\" not found"));
      }
      keyed = true;
      break;
    }
  }
  if (!keyed) return JailFailLocked(ENOENT, "no jail specified");
  int children = 0;
  for (const auto& [j, c] : prisons_) {
    if (c.parent == pr->jid) ++children;
  }
  for (JailParam& p : params) {
    if (p.name == "lastjid") continue;
    auto [name, positive] = SplitNoPrefix(p.name);
    std::string v;
    if (name == "jid") {
      v = StrCat(pr->jid);
    } else if (name == "name") {
      v = pr->name;
    } else if (name == "path") {
      v = pr->path;
    } else if (name == "persist") {
      v = pr->persist == positive ? "true" : "false";
    } else if (name == "parent") {
      v = StrCat(pr->parent);
    } else if (name == "dying") {
      v = "false";
    } else if (name == "children.cur") {
      v = StrCat(children);
    } else if (name == "vnet") {
      v = pr->vnet ? "new" : "inherit";
    } else if (name == "ip4.addr") {
      v = Join(pr->ip4, ",");
    } else if (name == "ip6.addr") {
      v = Join(pr->ip6, ",");
    } else if (auto it = pr->params.find(name); it != pr->params.end()) {
      v = it->second;
      if (LookupParam(name) == ParamType::kBool && !positive) {
        v = v == "true" ? "false" : "true";
      }
    } else if (LookupParam(name) == ParamType::kBool) {
      v = DefaultAllow(name) == positive ? "true" : "false";
    } else if (name == "host.hostname") {
      v = pr->name;
    } else if (name == "enforce_statfs") {
      v = "2";
    } else if (name == "securelevel") {
      v = "-1";
    } else if (name == "children.max" || name == "devfs_ruleset" ||
               name == "cpuset.id") {
      v = "0";
    } else {
      v = "";
    }
    p.value = std::move(v);
  }
  return pr->jid;
}

int FakeFreeBsdKernel::JailRemove(int jid) {
  absl::MutexLock lock(&mu_);
  LogLocked(StrCat("jail_remove(", jid, ")"));
  int fault = 0;
  if (TakeFaultLocked(Call::kJailRemove, fault)) return FailLocked(fault);
  if (!CallerIsRootLocked()) return FailLocked(EPERM);
  if (!prisons_.contains(jid)) return FailLocked(EINVAL);
  RemovePrisonLocked(jid);
  return 0;
}

int FakeFreeBsdKernel::JailAttach(int jid) {
  absl::MutexLock lock(&mu_);
  LogLocked(StrCat("jail_attach(", jid, ")"));
  int fault = 0;
  if (TakeFaultLocked(Call::kJailAttachCall, fault)) return FailLocked(fault);
  if (!CallerIsRootLocked()) return FailLocked(EPERM);
  if (!prisons_.contains(jid)) return FailLocked(EINVAL);
  processes_[kSelfPid].jid = jid;
  return 0;
}

std::string FakeFreeBsdKernel::JailErrmsg() const {
  absl::MutexLock lock(&mu_);
  return errmsg_;
}

// --- mounts --------------------------------------------------------------------

int FakeFreeBsdKernel::Nmount(struct iovec* iov, unsigned int niov, int flags) {
  absl::MutexLock lock(&mu_);
  FakeMount m;
  struct iovec* errmsg = nullptr;
  for (unsigned int i = 0; i + 1 < niov; i += 2) {
    const std::string name = IovString(iov[i]);
    if (name == "errmsg") {
      errmsg = &iov[i + 1];
      continue;
    }
    const std::string value = IovString(iov[i + 1]);
    if (name == "fstype") {
      m.fstype = value;
    } else if (name == "fspath") {
      m.fspath = value;
    } else if (name == "from" || name == "target") {
      m.from = value;
    } else if (name == "ro" || name == "rdonly") {
      m.read_only = true;
    } else {
      m.options[name] = value;
    }
  }
  if (flags & kMntRdonly) m.read_only = true;
  LogLocked(StrCat("nmount(", m.fstype, " ", m.from, " ", m.fspath,
                   m.read_only ? " ro" : "",
                   m.options.contains("ruleset")
                       ? StrCat(" ruleset=", m.options["ruleset"])
                       : std::string(),
                   ")"));
  auto fail = [&](int e, std::string_view msg) {
    if (errmsg != nullptr && errmsg->iov_base != nullptr && errmsg->iov_len > 0) {
      const std::size_t n = std::min(msg.size(), errmsg->iov_len - 1);
      std::memcpy(errmsg->iov_base, msg.data(), n);
      static_cast<char*>(errmsg->iov_base)[n] = '\0';
    }
    errno = e;
    return -1;
  };
  int fault = 0;
  if (TakeFaultLocked(Call::kNmount, fault)) return fail(fault, errmsg_);
  if ((niov & 1) != 0) return fail(EINVAL, "");
  if (!CallerIsRootLocked()) return fail(EPERM, "");
  if (m.fstype.empty() || m.fspath.empty()) return fail(EINVAL, "");
  static const std::set<std::string> kFsTypes = {
      "nullfs", "devfs", "procfs", "fdescfs", "tmpfs", "linprocfs",
      "linsysfs", "ufs", "zfs"};
  if (!kFsTypes.contains(m.fstype)) return fail(ENODEV, "Invalid fstype");
  if (m.fspath[0] != '/' || missing_paths_.contains(m.fspath)) {
    return fail(ENOENT, "");
  }
  if (m.fstype == "nullfs") {
    if (m.from.empty()) return fail(EINVAL, "missing target");
    if (missing_paths_.contains(m.from)) return fail(ENOENT, "");
  }
  if (m.fstype == "devfs" && m.options.contains("ruleset") &&
      !ParseInt<int64_t>(m.options["ruleset"]).has_value()) {
    return fail(EINVAL, "invalid ruleset specification");
  }
  mounts_.push_back(std::move(m));
  return 0;
}

int FakeFreeBsdKernel::Unmount(const char* dir, int flags) {
  absl::MutexLock lock(&mu_);
  const std::string path = dir == nullptr ? "" : dir;
  LogLocked(StrCat("unmount(", path, ")"));
  int fault = 0;
  if (TakeFaultLocked(Call::kUnmount, fault)) return FailLocked(fault);
  if (!CallerIsRootLocked()) return FailLocked(EPERM);
  auto it = std::find_if(mounts_.rbegin(), mounts_.rend(),
                         [&](const FakeMount& m) { return m.fspath == path; });
  if (it == mounts_.rend()) return FailLocked(EINVAL);  // not a mount point
  if (!(flags & kMntForce)) {
    const std::string below = path + "/";
    for (const FakeMount& m : mounts_) {
      if (StartsWith(m.fspath, below)) return FailLocked(EBUSY);
    }
  }
  mounts_.erase(std::next(it).base());
  return 0;
}

// --- rctl(2) ------------------------------------------------------------------------

int FakeFreeBsdKernel::WriteOutLocked(const std::string& text, char* outbufp,
                                      std::size_t outbuflen) {
  // rctl_write_outbuf: the string and its NUL, or ERANGE.
  if (outbuflen < text.size() + 1) return FailLocked(ERANGE);
  if (outbufp == nullptr) return FailLocked(EFAULT);
  std::memcpy(outbufp, text.c_str(), text.size() + 1);
  return 0;
}

int FakeFreeBsdKernel::RctlCommon(RctlCall which, const char* inbufp,
                                  std::size_t inbuflen, char* outbufp,
                                  std::size_t outbuflen) {
  absl::MutexLock lock(&mu_);
  static constexpr const char* kNames[] = {"rctl_get_racct", "rctl_get_rules",
                                           "rctl_get_limits", "rctl_add_rule",
                                           "rctl_remove_rule"};
  static constexpr Call kCalls[] = {Call::kRctlGetRacct, Call::kRctlGetRules,
                                    Call::kRctlGetLimits, Call::kRctlAddRule,
                                    Call::kRctlRemoveRule};
  const auto w = static_cast<std::size_t>(which);
  std::string input;
  if (inbufp != nullptr && inbuflen > 0) {
    input.assign(inbufp, strnlen(inbufp, std::min<std::size_t>(inbuflen, 4096)));
  }
  if (which == RctlCall::kGetRacct) {
    ++racct_calls_;  // not logged: it runs every tick
  } else {
    LogLocked(StrCat(kNames[w], "(", input, ")"));
  }
  int fault = 0;
  if (TakeFaultLocked(kCalls[w], fault)) return FailLocked(fault);
  // §8.2, in order.
  if (racct_form_ == RacctSysctl::kMissing || !racct_enabled_) {
    return FailLocked(ENOSYS);
  }
  if (!CallerIsRootLocked()) return FailLocked(EPERM);
  if ((which == RctlCall::kGetRules || which == RctlCall::kGetLimits) &&
      outbuflen > maxbufsize_) {
    return FailLocked(E2BIG);
  }
  if (inbuflen == 0) return FailLocked(EINVAL);
  if (inbuflen > rctl::kMaxInputLength) return FailLocked(E2BIG);
  if (inbufp == nullptr) return FailLocked(EFAULT);
  if (std::memchr(inbufp, '\0', inbuflen) == nullptr) {
    return FailLocked(ENAMETOOLONG);
  }
  const rctl::ProcessExists exists = [this](int64_t pid) {
    mu_.AssertHeld();
    return processes_.contains(static_cast<pid_t>(pid));
  };
  switch (which) {
    case RctlCall::kGetRacct: {
      absl::StatusOr<rctl::Rule> f = rctl::ParseRuleText(input, exists);
      if (!f.ok()) return FailLocked(ErrnoOf(f.status()));
      if (f->subject == SubjectType::kUndefined || f->subject_id.empty()) {
        return FailLocked(EINVAL);
      }
      rctl::UsageVector usage{};
      if (f->subject == SubjectType::kProcess) {
        usage = processes_[static_cast<pid_t>(*f->SubjectNumber())].usage;
      } else {
        // uifind, loginclass_find and prison_racct_find create the
        // container on demand: an unknown id reads as zeros.
        usage = ContainerLocked(f->subject, f->subject_id);
      }
      return WriteOutLocked(rctl::FormatUsage(usage, f->subject), outbufp,
                            outbuflen);
    }
    case RctlCall::kGetRules: {
      absl::StatusOr<rctl::Rule> f = rctl::ParseRuleText(input, exists);
      if (!f.ok()) return FailLocked(ErrnoOf(f.status()));
      return WriteOutLocked(rules_.ListText(*f), outbufp, outbuflen);
    }
    case RctlCall::kGetLimits: {
      absl::StatusOr<rctl::Rule> f = rctl::ParseRuleText(input, exists);
      if (!f.ok()) return FailLocked(ErrnoOf(f.status()));
      if (f->subject == SubjectType::kUndefined) return FailLocked(EINVAL);
      if (f->subject != SubjectType::kProcess) return FailLocked(EOPNOTSUPP);
      if (f->subject_id.empty()) return FailLocked(EINVAL);
      const FakeProcess& p = processes_[static_cast<pid_t>(*f->SubjectNumber())];
      const std::vector<std::string> chain = PrisonChainLocked(p.jid);
      std::string out;
      // Every rule linked to the process (§6.7): its own, its real or
      // effective uid's, its login class's, its jail's and ancestors'.
      for (const rctl::Rule& r : rules_.List(rctl::Rule{})) {
        bool linked = false;
        switch (r.subject) {
          case SubjectType::kProcess:
            linked = r.subject_id == f->subject_id;
            break;
          case SubjectType::kUser:
            linked = r.subject_id == StrCat(static_cast<int64_t>(p.ruid)) ||
                     r.subject_id == StrCat(static_cast<int64_t>(p.euid));
            break;
          case SubjectType::kLoginclass:
            linked = r.subject_id == p.loginclass;
            break;
          case SubjectType::kJail:
            linked = std::find(chain.begin(), chain.end(), r.subject_id) !=
                     chain.end();
            break;
          case SubjectType::kUndefined:
            break;
        }
        if (!linked) continue;
        if (!out.empty()) out.push_back(',');
        out.append(rctl::FormatRule(r));
      }
      return WriteOutLocked(out, outbufp, outbuflen);
    }
    case RctlCall::kAdd: {
      absl::StatusOr<rctl::Rule> r = rctl::ParseRuleForAdd(input, exists);
      if (!r.ok()) return FailLocked(ErrnoOf(r.status()));
      if (absl::Status s = rules_.Add(*std::move(r)); !s.ok()) {
        return FailLocked(ErrnoOf(s));
      }
      return 0;
    }
    case RctlCall::kRemove: {
      absl::StatusOr<rctl::Rule> f = rctl::ParseRuleText(input, exists);
      if (!f.ok()) return FailLocked(ErrnoOf(f.status()));
      absl::StatusOr<int> n = rules_.Remove(*f);
      if (!n.ok()) return FailLocked(ErrnoOf(n.status()));
      return 0;
    }
  }
  return FailLocked(EINVAL);
}

int FakeFreeBsdKernel::RctlGetRacct(const char* in, std::size_t inlen, char* out,
                                    std::size_t outlen) {
  return RctlCommon(RctlCall::kGetRacct, in, inlen, out, outlen);
}
int FakeFreeBsdKernel::RctlGetRules(const char* in, std::size_t inlen, char* out,
                                    std::size_t outlen) {
  return RctlCommon(RctlCall::kGetRules, in, inlen, out, outlen);
}
int FakeFreeBsdKernel::RctlGetLimits(const char* in, std::size_t inlen,
                                     char* out, std::size_t outlen) {
  return RctlCommon(RctlCall::kGetLimits, in, inlen, out, outlen);
}
int FakeFreeBsdKernel::RctlAddRule(const char* in, std::size_t inlen, char* out,
                                   std::size_t outlen) {
  return RctlCommon(RctlCall::kAdd, in, inlen, out, outlen);
}
int FakeFreeBsdKernel::RctlRemoveRule(const char* in, std::size_t inlen,
                                      char* out, std::size_t outlen) {
  return RctlCommon(RctlCall::kRemove, in, inlen, out, outlen);
}

// --- sysctl, kill, processes ------------------------------------------------------

int FakeFreeBsdKernel::Sysctlbyname(const char* name, void* oldp,
                                    std::size_t* oldlenp, const void* newp,
                                    std::size_t newlen) {
  absl::MutexLock lock(&mu_);
  const std::string n = name == nullptr ? "" : name;
  LogLocked(StrCat("sysctlbyname(", n, ")"));
  int fault = 0;
  if (TakeFaultLocked(Call::kSysctlbyname, fault)) return FailLocked(fault);
  unsigned char value[8] = {};
  std::size_t size = 0;
  if (racct_form_ != RacctSysctl::kMissing && n == "kern.racct.enable") {
    if (racct_form_ == RacctSysctl::kBool) {
      value[0] = racct_enabled_ ? 1 : 0;
      size = 1;
    } else {
      const int v = racct_enabled_ ? 1 : 0;
      std::memcpy(value, &v, sizeof v);
      size = sizeof v;
    }
  } else if (racct_form_ != RacctSysctl::kMissing &&
             n == "kern.racct.rctl.maxbufsize") {
    const auto v = static_cast<uint32_t>(maxbufsize_);
    std::memcpy(value, &v, sizeof v);
    size = sizeof v;
  } else {
    return FailLocked(ENOENT);
  }
  if (newp != nullptr || newlen != 0) return FailLocked(EPERM);  // RDTUN
  if (oldlenp == nullptr) return FailLocked(EFAULT);
  if (oldp == nullptr) {
    *oldlenp = size;
    return 0;
  }
  const std::size_t n_copy = std::min(*oldlenp, size);
  std::memcpy(oldp, value, n_copy);
  const bool short_buffer = *oldlenp < size;
  *oldlenp = size;
  if (short_buffer) return FailLocked(ENOMEM);
  return 0;
}

int FakeFreeBsdKernel::Kill(pid_t pid, int sig) {
  absl::MutexLock lock(&mu_);
  LogLocked(StrCat("kill(", static_cast<int64_t>(pid), ", ", sig, ")"));
  int fault = 0;
  if (TakeFaultLocked(Call::kKill, fault)) return FailLocked(fault);
  if (pid <= 0 || sig < 0 || sig > 128) return FailLocked(EINVAL);
  auto it = processes_.find(pid);
  if (it == processes_.end()) return FailLocked(ESRCH);
  if (caller_uid_ != 0 && it->second.ruid != caller_uid_ &&
      it->second.euid != caller_uid_) {
    return FailLocked(EPERM);
  }
  if (sig == 0) return 0;
  it->second.signals.push_back(sig);
  if (sig == kSigKill || (sig == kSigTerm && !it->second.ignores_sigterm)) {
    ExitLocked(pid);
  }
  return 0;
}

int FakeFreeBsdKernel::KinfoGetallproc(std::vector<KinfoProc>& out) {
  absl::MutexLock lock(&mu_);
  int fault = 0;
  if (TakeFaultLocked(Call::kKinfoGetallproc, fault)) return FailLocked(fault);
  out.clear();
  for (const auto& [pid, p] : processes_) {
    out.push_back(KinfoProc{p.pid, p.ppid, p.jid, p.ruid, p.euid, p.comm});
  }
  return 0;
}

// --- commands ------------------------------------------------------------------

int FakeFreeBsdKernel::IfconfigLocked(const FakeCommand& cmd) {
  const std::vector<std::string>& a = cmd.argv;
  if (a.size() < 3) return 1;
  auto it = interfaces_.find(a[1]);
  if (it == interfaces_.end() || it->second.first != cmd.jid) {
    return 1;  // "ifconfig: interface X does not exist"
  }
  if (a[2] == "vnet" && a.size() == 4) {
    const std::optional<int64_t> jid = ParseInt<int64_t>(a[3]);
    std::optional<int> target;
    if (jid.has_value() && prisons_.contains(static_cast<int>(*jid))) {
      target = static_cast<int>(*jid);
    } else if (FakePrison* p = FindByNameLocked(a[3]); p != nullptr) {
      target = p->jid;
    }
    if (!target.has_value() || !prisons_[*target].vnet) return 1;
    it->second.first = *target;
    return 0;
  }
  if ((a[2] != "inet" && a[2] != "inet6") || a.size() < 5) return 1;
  const std::string verb = a.back();
  if (verb != "alias" && verb != "-alias") return 1;
  const std::string entry = Join(std::vector<std::string>(a.begin() + 2, a.end() - 1), " ");
  auto addr_of = [](std::string_view e) {
    std::vector<std::string_view> f = SplitWhitespace(e);
    std::string_view addr = f.size() > 1 ? f[1] : std::string_view();
    return std::string(addr.substr(0, addr.find('/')));
  };
  std::vector<std::string>& aliases = it->second.second;
  const std::string addr = addr_of(entry);
  auto found = std::find_if(aliases.begin(), aliases.end(), [&](const std::string& e) {
    return addr_of(e) == addr;
  });
  if (verb == "alias") {
    if (found != aliases.end()) return 1;  // SIOCAIFADDR: File exists
    aliases.push_back(entry);
  } else {
    if (found == aliases.end()) return 1;  // Can't assign requested address
    aliases.erase(found);
  }
  return 0;
}

int FakeFreeBsdKernel::RunCommand(int jid, const ExecRequest& request,
                                  ExecResult& result) {
  FakeCommand cmd{jid, request.argv, request.env};
  CommandHandler handler;
  {
    absl::MutexLock lock(&mu_);
    LogLocked(StrCat("run(jid=", jid, ") ", Join(request.argv, " ")));
    int fault = 0;
    if (TakeFaultLocked(Call::kRunCommand, fault)) return FailLocked(fault);
    if (request.argv.empty()) return FailLocked(ENOENT);
    if (jid != 0 && !prisons_.contains(jid)) return FailLocked(EINVAL);
    result = ExecResult{};
    if (Basename(request.argv[0]) == "ifconfig") {
      result.exit_code = IfconfigLocked(cmd);
      return 0;
    }
    handler = handler_;
  }
  result = ExecResult{};
  result.exit_code = handler ? handler(cmd) : 0;
  return 0;
}

int FakeFreeBsdKernel::SpawnCommand(int jid, const ExecRequest& request,
                                    pid_t& pid) {
  absl::MutexLock lock(&mu_);
  LogLocked(StrCat("spawn(jid=", jid, ") ", Join(request.argv, " ")));
  int fault = 0;
  if (TakeFaultLocked(Call::kRunCommand, fault)) return FailLocked(fault);
  if (request.argv.empty()) return FailLocked(ENOENT);
  if (jid != 0 && !prisons_.contains(jid)) return FailLocked(EINVAL);
  pid = NewProcessLocked(jid, 0, 0, Basename(request.argv[0]), "default");
  return 0;
}

}  // namespace jailwarden::platform
