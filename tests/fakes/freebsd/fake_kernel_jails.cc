// FakeFreeBsdKernel's prisons: libjail's jail_setv/jail_getv (parameter
// conversion and errmsg texts) over kern_jail.c's rules (jid allocation,
// unique and hierarchical names, CREATE/UPDATE/ATTACH, persist),
// jail_remove(2) and jail_attach(2).

#include "fakes/freebsd/fake_kernel.h"

#include <arpa/inet.h>
#include <sys/socket.h>  // AF_INET, AF_INET6: FreeBSD's arpa/inet.h lacks them

#include <cerrno>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fakes/freebsd/fake_jail_params.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {

using fake_jail::DefaultAllow;
using fake_jail::LookupParam;
using fake_jail::ParamType;
using fake_jail::SplitNoPrefix;

FakePrison* FakeFreeBsdKernel::FindByNameLocked(const std::string& name) {
  for (auto& [jid, p] : prisons_) {
    if (p.name == name) return &p;
  }
  return nullptr;
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
    ExitLocked(pid, kSigKill);
  }
  // vnet_destroy: interfaces moved in go back to the host's vnet, with
  // their addresses gone (if_vmove to the home vnet).
  for (auto& [name, owner] : interfaces_) {
    if (owner.first == jid) owner = {0, {}};
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

}  // namespace jailwarden::platform
