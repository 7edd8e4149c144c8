// FakeFreeBsdKernel's process table and racct: processes charged to their
// real uid, login class and every ancestor prison (freebsd-rctl.md §2),
// fork/exit accounting, kill(2) and kinfo_getallproc(3).

#include "fakes/freebsd/fake_kernel.h"

#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "jailwarden/base/strings.h"

namespace jailwarden::platform {

using rctl::Resource;
using rctl::SubjectType;

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

void FakeFreeBsdKernel::ExitLocked(pid_t pid, int wait_status) {
  auto it = processes_.find(pid);
  if (it == processes_.end()) return;
  if (main_children_.contains(pid)) ended_children_[pid] = wait_status;
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

void FakeFreeBsdKernel::ExitProcessWithCode(pid_t pid, int code) {
  absl::MutexLock lock(&mu_);
  ExitLocked(pid, (code & 0xff) << 8);  // the wait(2) status word of exit(code)
}

std::map<pid_t, std::string> FakeFreeBsdKernel::MainChildren() const {
  absl::MutexLock lock(&mu_);
  return main_children_;
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
    ExitLocked(pid, sig);  // killed by `sig`: the wait(2) status word
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

}  // namespace jailwarden::platform
