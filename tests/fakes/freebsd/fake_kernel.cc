// FakeFreeBsdKernel's set-up, faults, call log and inspection. The kernel
// facilities are in the fake_kernel_*.cc files beside this one.

#include "fakes/freebsd/fake_kernel.h"

#include <cerrno>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::platform {

FakeFreeBsdKernel::FakeFreeBsdKernel() {
  absl::MutexLock lock(&mu_);
  FakeProcess self;
  self.pid = kSelfPid;
  self.comm = "jailwarden";
  processes_[kSelfPid] = self;
}

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
void FakeFreeBsdKernel::SetMainHandler(MainHandler handler) {
  absl::MutexLock lock(&mu_);
  main_handler_ = std::move(handler);
}
void FakeFreeBsdKernel::FailNext(Call call, int errnum, std::string errmsg,
                                 int count) {
  absl::MutexLock lock(&mu_);
  faults_[call] = Fault{errnum, std::move(errmsg), count};
}

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

}  // namespace jailwarden::platform
