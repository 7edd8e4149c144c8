// The FreeBSD host backend: src/platform/freebsd's pieces over one
// FreeBsdKernel seam. Portable (the seam is an interface), so the whole
// serve path runs on Linux against FakeFreeBsdKernel; on FreeBSD
// host_backend.cc binds it to the real kernel.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/freebsd/jail_runtime.h"
#include "jailwarden/platform/freebsd/limit_enforcer.h"
#include "jailwarden/platform/freebsd/racct_reader.h"
#include "jailwarden/platform/freebsd/rctl_backend.h"
#include "jailwarden/service/host_backend.h"

namespace jailwarden::service {
namespace {

constexpr char kOwnedRulesFile[] = "freebsd-rctl-owned";

// Writes `lines` to `path` through a temporary file and rename(2), so a
// crash leaves the old list or the new one, never half of one.
absl::Status WriteLinesAtomically(const std::string& path,
                                  const std::vector<std::string>& lines) {
  const std::string tmp = StrCat(path, ".tmp");
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int e = errno;
    return ErrnoStatus(e, StrCat("open ", tmp));
  }
  std::string text;
  for (const std::string& l : lines) StrAppend(&text, l, "\n");
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      const int e = errno;
      if (e == EINTR) continue;
      close(fd);
      return ErrnoStatus(e, StrCat("write ", tmp));
    }
    done += static_cast<std::size_t>(n);
  }
  if (close(fd) != 0) {
    const int e = errno;
    return ErrnoStatus(e, StrCat("close ", tmp));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    return ErrnoStatus(e, StrCat("rename ", tmp, " ", path));
  }
  return absl::OkStatus();
}

// FreeBsdLimitEnforcer, plus a record of the rules it owns after every
// Apply, so the next daemon (after a crash or `kill -9`; rules do not
// outlive a reboot, nor does run_dir) goes on removing its own rules and
// leaving the admin's alone. Thread-safe.
class RecordingFreeBsdEnforcer final : public platform::LimitEnforcer {
 public:
  RecordingFreeBsdEnforcer(platform::FreeBsdKernel& kernel, std::string owned_path)
      : enforcer_(kernel), owned_path_(std::move(owned_path)) {}

  // Reads the record a previous daemon left (none is fine).
  void Restore() {
    if (owned_path_.empty()) return;
    absl::StatusOr<std::string> text = ReadFile(owned_path_, 16 << 20);
    if (!text.ok()) {
      if (StatusErrno(text.status()) != ENOENT) {
        LogWarning("cannot read jailwarden's rctl rules of an earlier run; they "
                   "count as foreign",
                   {{"file", owned_path_}, {"error", std::string(text.status().message())}});
      }
      return;
    }
    std::vector<std::string> rules;
    for (std::string_view l : Split(*text, '\n')) {
      if (!l.empty()) rules.emplace_back(l);
    }
    enforcer_.reconciler().RestoreOwned(rules);
  }

  absl::StatusOr<std::vector<platform::Enforcement>> Apply(
      const platform::JailRef& jail, const std::vector<rctl::Rule>& rules) override {
    absl::StatusOr<std::vector<platform::Enforcement>> out = enforcer_.Apply(jail, rules);
    Record();  // a failed Apply may have changed the set too (its undo)
    return out;
  }

  platform::Enforcement Describe(const rctl::Rule& rule) const override {
    return enforcer_.Describe(rule);
  }

  const platform::FreeBsdLimitEnforcer& inner() const { return enforcer_; }

 private:
  void Record() {
    if (owned_path_.empty()) return;
    absl::MutexLock l(&mu_);
    std::vector<std::string> owned = enforcer_.reconciler().Owned();
    if (owned == recorded_) return;
    if (absl::Status s = WriteLinesAtomically(owned_path_, owned); !s.ok()) {
      LogWarning("cannot record jailwarden's rctl rules",
                 {{"file", owned_path_}, {"error", std::string(s.message())}});
      return;
    }
    recorded_ = std::move(owned);
  }

  platform::FreeBsdLimitEnforcer enforcer_;
  const std::string owned_path_;
  absl::Mutex mu_;
  std::vector<std::string> recorded_ ABSL_GUARDED_BY(mu_);
};

class FreeBsdHostBackend final : public HostBackend {
 public:
  FreeBsdHostBackend(platform::FreeBsdKernel& kernel, const FreeBsdBackendOptions& options)
      : runtime_(std::make_unique<platform::FreeBsdJailRuntime>(kernel, options.runtime)),
        reader_(kernel),
        enforcer_(kernel, options.run_dir.empty()
                              ? std::string()
                              : StrCat(options.run_dir, "/", kOwnedRulesFile)) {
    enforcer_.Restore();
  }

  std::string_view name() const override { return "freebsd"; }
  std::unique_ptr<platform::JailRuntime> TakeRuntime() override {
    return std::move(runtime_);
  }
  platform::UsageReader& reader() override { return reader_; }
  platform::LimitEnforcer& enforcer() override { return enforcer_; }

  // The reader reads by name and the enforcer by jail:<name>: scope, so a
  // jail needs no per-jail set-up beyond its jid.
  absl::StatusOr<platform::JailRef> AddJail(
      const platform::JailInstance& instance) override {
    if (instance.ref.jid <= 0) {
      return absl::FailedPreconditionError(
          StrCat("jail ", instance.ref.name, " has no jid"));
    }
    platform::JailRef ref = instance.ref;
    ref.handle = static_cast<uint64_t>(ref.jid);
    absl::MutexLock l(&mu_);
    jails_[ref.name] = ref;
    return ref;
  }

  // The kernel keeps a jail's rctl rules after the jail is gone (they name
  // it, not its jid) and would apply them to the next jail of that name,
  // so jailwarden's own rules go with the jail; an admin's stay.
  void RemoveJail(std::string_view name) override {
    platform::JailRef ref;
    {
      absl::MutexLock l(&mu_);
      auto it = jails_.find(name);
      if (it == jails_.end()) return;
      ref = it->second;
      jails_.erase(it);
    }
    if (absl::StatusOr<std::vector<platform::Enforcement>> s = enforcer_.Apply(ref, {});
        !s.ok()) {
      LogWarning("cannot remove the rctl rules of a stopped jail",
                 {{"jail", ref.name}, {"error", std::string(s.status().message())}});
    }
  }

  // rctl(2) denies every charge over a deny rule itself.
  bool DenyIsSampled(const rctl::Rule& rule) const override {
    (void)rule;
    return false;
  }

  bool KernelActs() const override { return true; }

  std::vector<rctl::Rule> ForeignRules() const override {
    std::vector<std::string> names;
    {
      absl::MutexLock l(&mu_);
      for (const auto& [name, ref] : jails_) names.push_back(name);
    }
    std::vector<rctl::Rule> out;
    for (const std::string& name : names) {
      for (rctl::Rule& r : enforcer_.inner().LastResult(name).foreign) {
        out.push_back(std::move(r));
      }
    }
    return out;
  }

 private:
  std::unique_ptr<platform::FreeBsdJailRuntime> runtime_;
  platform::FreeBsdRacctReader reader_;
  RecordingFreeBsdEnforcer enforcer_;
  mutable absl::Mutex mu_;
  std::map<std::string, platform::JailRef, std::less<>> jails_ ABSL_GUARDED_BY(mu_);
};

// security.jail.jailed (sys/kern/kern_jail.c): 1 inside a jail.
absl::StatusOr<bool> RunsJailed(platform::FreeBsdKernel& kernel) {
  int jailed = 0;
  std::size_t len = sizeof jailed;
  if (kernel.Sysctlbyname("security.jail.jailed", &jailed, &len, nullptr, 0) != 0) {
    const int e = errno;
    return ErrnoStatus(e, "sysctlbyname(security.jail.jailed)");
  }
  return jailed != 0;
}

}  // namespace

absl::Status CheckFreeBsdHost(platform::FreeBsdKernel& kernel) {
  absl::StatusOr<bool> jailed = RunsJailed(kernel);
  if (!jailed.ok()) return jailed.status();
  if (*jailed) {
    return absl::FailedPreconditionError(
        "jailwarden is running inside a jail (security.jail.jailed=1): it "
        "creates jails and installs rctl(2) rules, which only the host can; "
        "run it on the host as root");
  }
  absl::Status racct = platform::CheckRacctAvailable(kernel);
  if (StatusErrno(racct) == EPERM) {
    return ErrnoStatusWithMessage(
        EPERM,
        "jailwarden must run as root on the host: rctl(2) refused "
        "(rctl_get_rules needs PRIV_RCTL_GET_RULES)");
  }
  return racct;
}

absl::StatusOr<std::unique_ptr<HostBackend>> NewFreeBsdHostBackend(
    platform::FreeBsdKernel& kernel, const FreeBsdBackendOptions& options) {
  if (absl::Status s = CheckFreeBsdHost(kernel); !s.ok()) return s;
  FreeBsdBackendOptions o = options;
  if (!o.run_dir.empty()) {
    if (absl::Status s = MakeDirs(o.run_dir, 0700); !s.ok()) return s;
    // command: hosts' sockets and records (issue 17), beside the rules.
    if (o.runtime.main_dir.empty()) o.runtime.main_dir = StrCat(o.run_dir, "/main");
  }
  if (!o.runtime.main_dir.empty()) {
    if (absl::Status s = MakeDirs(o.runtime.main_dir, 0700); !s.ok()) return s;
  }
  return std::unique_ptr<HostBackend>(new FreeBsdHostBackend(kernel, o));
}

}  // namespace jailwarden::service
