#include "jailwarden/service/host_backend.h"

#include <map>

#include "absl/synchronization/mutex.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#if defined(__linux__)
#include "jailwarden/platform/linux/jail_scopes.h"
#include "jailwarden/platform/linux/linux_jail_runtime.h"
#include "jailwarden/platform/linux/linux_limit_enforcer.h"
#include "jailwarden/platform/linux/linux_usage_reader.h"
#include "jailwarden/platform/linux/oom_events.h"
#include "jailwarden/platform/linux/systemd_scopes.h"
#endif

namespace jailwarden::service {

// The Linux backend is built only where its platform code is
// (src/platform/CMakeLists.txt builds src/platform/linux/ on Linux only).
#if defined(__linux__)
namespace {

class LinuxHostBackend final : public HostBackend {
 public:
  LinuxHostBackend(std::unique_ptr<platform::JailRuntime> runtime,
                   std::unique_ptr<platform::LinuxUsageReader> reader,
                   std::shared_ptr<platform::LinuxLimitEnforcer> enforcer)
      : runtime_(std::move(runtime)),
        reader_(std::move(reader)),
        enforcer_(std::move(enforcer)) {}

  std::string_view name() const override { return "linux"; }
  std::unique_ptr<platform::JailRuntime> TakeRuntime() override {
    return std::move(runtime_);
  }
  platform::UsageReader& reader() override { return *reader_; }
  platform::LimitEnforcer& enforcer() override { return *enforcer_; }

  absl::StatusOr<platform::JailRef> AddJail(
      const platform::JailInstance& instance) override {
    JW_ASSIGN_OR_RETURN(platform::JailRef ref, reader_->AddJail(instance));
    if (absl::Status s = enforcer_->AddJail(instance); !s.ok()) {
      (void)reader_->RemoveJail(instance.ref.name);
      return s;
    }
    return ref;
  }

  absl::StatusOr<platform::JailRef> ObserveJail(
      const platform::JailInstance& instance) override {
    return reader_->AddJail(instance);
  }

  void RemoveJail(std::string_view name) override {
    (void)reader_->RemoveJail(name);
    enforcer_->RemoveJail(name);
  }

  bool DenyIsSampled(const rctl::Rule& rule) const override {
    return enforcer_->DenyIsSampled(rule);
  }

  absl::StatusOr<int64_t> OomKills(const platform::JailInstance& instance) override {
    return platform::ReadOomKillCount(instance);
  }

  absl::Status Reconcile(std::string_view jail) override {
    return enforcer_->Reconcile(jail);
  }

 private:
  std::unique_ptr<platform::JailRuntime> runtime_;
  std::unique_ptr<platform::LinuxUsageReader> reader_;
  std::shared_ptr<platform::LinuxLimitEnforcer> enforcer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HostBackend>> NewLinuxHostBackend(
    const LinuxBackendOptions& options) {
  platform::LinuxLimitEnforcerOptions eo;
  eo.cgroup_root = options.cgroup_root;
  JW_ASSIGN_OR_RETURN(std::unique_ptr<platform::LinuxLimitEnforcer> made,
                      platform::LinuxLimitEnforcer::Create(eo));
  std::shared_ptr<platform::LinuxLimitEnforcer> enforcer = std::move(made);
  platform::LinuxJailRuntimeOptions rt;
  rt.run_dir = options.run_dir;
  rt.state_dir = options.state_dir;
  rt.cgroup_root = options.cgroup_root;
  rt.cgroup_parent = options.cgroup_parent;
  // Commands started in a jail get its per-process rlimits before exec.
  // The runtime is handed to the jail Manager (TakeRuntime), so it shares
  // ownership of the enforcer rather than borrow it.
  rt.exec_rlimits = [e = enforcer](std::string_view jail) {
    std::vector<std::array<uint64_t, 3>> out;
    for (const platform::LinuxRlimit& l : e->ExecRlimits(jail)) {
      out.push_back({static_cast<uint64_t>(l.resource), l.soft, l.hard});
    }
    return out;
  };
  // Under systemd on the unified hierarchy each jail is a scope of its
  // own, outside this daemon's unit (platform/linux/jail_scopes.h).
  if (platform::SystemdScopesWanted(options.cgroup_root)) {
    JW_ASSIGN_OR_RETURN(rt.scopes, platform::NewSystemdJailScopes());
  }
  JW_ASSIGN_OR_RETURN(std::unique_ptr<platform::JailRuntime> runtime,
                      platform::NewLinuxJailRuntime(rt));
  platform::LinuxUsageReaderOptions ro;
  ro.cgroup_root = options.cgroup_root;
  // memory.stat and the I/O counters at 4 Hz rather than at every tick
  // (issue 16: with the syscalls, most of the daemon's CPU).
  ro.costly_every = absl::Milliseconds(250);
  JW_ASSIGN_OR_RETURN(std::unique_ptr<platform::LinuxUsageReader> reader,
                      platform::LinuxUsageReader::Create(ro));
  return std::unique_ptr<HostBackend>(new LinuxHostBackend(
      std::move(runtime), std::move(reader), std::move(enforcer)));
}
#endif  // __linux__

std::string CgroupParentFor(std::string_view state_dir) {
  if (state_dir == policy::kDefaultStateDir) return "jailwarden";
  uint32_t h = 2166136261u;
  for (const char c : state_dir) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "jailwarden-";
  for (int shift = 28; shift >= 0; shift -= 4) out.push_back(kHex[(h >> shift) & 15]);
  return out;
}

std::string RunDirFor(std::string_view state_dir) {
#if defined(__FreeBSD__)
  if (state_dir == policy::kDefaultStateDir) return "/var/run/jailwarden";
#else
  if (state_dir == policy::kDefaultStateDir) return "/run/jailwarden";
#endif
  return StrCat(state_dir, "/run");
}

absl::StatusOr<std::unique_ptr<HostBackend>> NewHostBackend(
    policy::Backend backend, const LinuxBackendOptions& options) {
  switch (backend) {
    case policy::Backend::kAuto:
#if defined(__linux__)
      return NewLinuxHostBackend(options);
#elif defined(__FreeBSD__)
      return NewHostBackend(policy::Backend::kFreeBsd, options);
#else
      return absl::FailedPreconditionError(
          "server.backend auto: jailwarden has no backend for this OS");
#endif
    case policy::Backend::kLinux:
#if defined(__linux__)
      return NewLinuxHostBackend(options);
#else
      return absl::FailedPreconditionError(
          "server.backend linux: this host is not Linux; use 'backend: "
          "freebsd' or 'auto'");
#endif
    case policy::Backend::kFreeBsd: {
#if defined(__FreeBSD__)
      // One real kernel seam per process, never destroyed: backends made
      // later (a test, a second daemon) share it.
      static platform::FreeBsdKernel* const kernel =
          platform::SystemFreeBsdKernel().release();
      FreeBsdBackendOptions fo;
      fo.run_dir = options.run_dir;
      return NewFreeBsdHostBackend(*kernel, fo);
#elif defined(__linux__)
      return absl::FailedPreconditionError(
          "server.backend freebsd is not meaningful on this Linux host: the "
          "FreeBSD backend drives jail(2) and rctl(2), which only a FreeBSD "
          "kernel has; use 'backend: linux' or 'auto'");
#else
      (void)options;
      return absl::FailedPreconditionError(
          "server.backend freebsd: this host is not FreeBSD");
#endif
    }
  }
  return absl::InvalidArgumentError("unknown backend");
}

}  // namespace jailwarden::service
