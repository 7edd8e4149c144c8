#pragma once

// The host backend as the daemon sees it: the three platform pieces
// (JailRuntime, UsageReader, LimitEnforcer) plus the registration of
// running jails with the reader and the enforcer, chosen once at start.
// Linux is the only backend `jailwarden serve` runs on a Linux host; on
// FreeBSD it runs the FreeBSD backend over the real syscall seam. Tests
// build one from fakes, or the FreeBSD one over FakeFreeBsdKernel.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/platform/freebsd/jail_runtime.h"
#include "jailwarden/platform/freebsd/kernel.h"
#include "jailwarden/platform/jail_runtime.h"
#include "jailwarden/platform/limit_enforcer.h"
#include "jailwarden/platform/usage_reader.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/rctl/rule.h"

namespace jailwarden::service {

class HostBackend {
 public:
  virtual ~HostBackend() = default;

  // "linux", "freebsd", "fake".
  virtual std::string_view name() const = 0;

  // The runtime, handed to jail::Manager once (nullptr afterwards).
  virtual std::unique_ptr<platform::JailRuntime> TakeRuntime() = 0;
  virtual platform::UsageReader& reader() = 0;
  virtual platform::LimitEnforcer& enforcer() = 0;

  // A jail is running (started or adopted): sample and enforce it. Returns
  // the JailRef for LimitEnforcer::Apply. Idempotent per jail name.
  virtual absl::StatusOr<platform::JailRef> AddJail(
      const platform::JailInstance& instance) = 0;
  // Sample a jail the daemon does not manage (an OCI container that
  // `jailwarden oci` made, observed read-only): the usage reader only,
  // never the enforcer. RemoveJail forgets it. Unimplemented where the
  // backend cannot (the default).
  virtual absl::StatusOr<platform::JailRef> ObserveJail(
      const platform::JailInstance& instance) {
    (void)instance;
    return absl::UnimplementedError("this backend does not observe foreign jails");
  }
  // The jail stopped: stop sampling and enforcing it. OK if unknown.
  virtual void RemoveJail(std::string_view name) = 0;

  // For engine::EngineOptions::deny_is_sampled.
  virtual bool DenyIsSampled(const rctl::Rule& rule) const = 0;

  // Periodic upkeep of one jail's limits (per-process rlimits on processes
  // that appeared since the last call). Called about once a second.
  virtual absl::Status Reconcile(std::string_view jail) {
    (void)jail;
    return absl::OkStatus();
  }

  // True when the kernel itself carries out every RCTL action of every
  // rule the enforcer installed (FreeBSD: deny, log, devctl, throttle and
  // the signals, at the moment of the charge). The daemon's engine then
  // only counts matches, headroom and peaks for metrics and never acts a
  // second time (TickRouterOptions::kernel_acts). False by default: the
  // Linux kernel enforces some denies, the engine does the rest.
  virtual bool KernelActs() const { return false; }

  // Rules found in the kernel for a running jail that jailwarden did not
  // make (rctl.conf, an admin's rctl -a) and left in place, as of each
  // jail's last Apply. Empty where the enforcer owns the kernel's limits
  // outright (Linux). Thread-safe.
  virtual std::vector<rctl::Rule> ForeignRules() const { return {}; }

  // How many of the jail's processes the kernel's OOM killer has killed
  // since its start (a counter that only grows; the oom_killed event).
  // Unimplemented where the host has no such counter (the default).
  virtual absl::StatusOr<int64_t> OomKills(const platform::JailInstance& instance) {
    (void)instance;
    return absl::UnimplementedError("no OOM-kill counter on this backend");
  }
};

struct LinuxBackendOptions {
  std::string run_dir;  // per-jail scratch, absolute
  std::string state_dir;  // what outlives a reboot (disk quota project ids)
  std::string cgroup_root = "/sys/fs/cgroup";
  // Directory made below jailwarden's own cgroup for its jails.
  std::string cgroup_parent = "jailwarden";
};

// The cgroup parent for a daemon with `state_dir`: "jailwarden" for the
// default state directory, "jailwarden-<8 hex digits of its FNV-1a hash>"
// otherwise, so two daemons on one host (tests, a second instance) never
// share a jail's cgroup.
std::string CgroupParentFor(std::string_view state_dir);

// The runtime directory for a daemon with `state_dir` (jails' sockets and
// thin roots, and the records of one-shot `run` jails, none of which
// outlive the machine): for the default state directory /run/jailwarden
// on Linux (systemd's RuntimeDirectory=, tmpfs), /var/run/jailwarden on
// FreeBSD (hier(7); cleared at boot by rc.d/cleanvar); <state_dir>/run
// otherwise.
std::string RunDirFor(std::string_view state_dir);

// The Linux backend (namespaces, cgroups, /proc). Errors from the
// platform constructors (no usable cgroup hierarchy, no jailwarden-init).
absl::StatusOr<std::unique_ptr<HostBackend>> NewLinuxHostBackend(
    const LinuxBackendOptions& options);

struct FreeBsdBackendOptions {
  // Per-daemon scratch that lives as long as the kernel's rctl rules (until
  // reboot), absolute: the rules jailwarden installed are recorded here
  // (freebsd-rctl-owned) so that a daemon restarted after a crash still
  // tells its own rules from an admin's. Created if missing. Empty: not
  // recorded (every rule found after a restart counts as foreign).
  std::string run_dir;
  platform::FreeBsdJailRuntimeOptions runtime;
};

// Why the FreeBSD backend cannot run on this kernel, or OK. In order:
// FailedPrecondition when jailwarden itself runs inside a jail
// (security.jail.jailed=1: jails and rctl rules are made from the host);
// FailedPrecondition when RACCT is missing from the kernel, or present
// and disabled (the message is rctl(8)'s text and the remedy:
// kern.racct.enable=1 in /boot/loader.conf, then reboot); PermissionDenied
// (errno EPERM) when rctl(2) refuses because jailwarden is not root; or
// the probe's own errno status. Thread-safe if the kernel is.
absl::Status CheckFreeBsdHost(platform::FreeBsdKernel& kernel);

// The FreeBSD backend over `kernel` (the real one on FreeBSD,
// FakeFreeBsdKernel in tests; it must outlive the backend):
// FreeBsdJailRuntime, FreeBsdRacctReader (one rctl_get_racct(2) per jail
// per tick) and FreeBsdLimitEnforcer (rules installed and reconciled with
// rctl_add_rule(2)/rctl_remove_rule(2), other rules left alone). Its
// KernelActs() is true. Runs CheckFreeBsdHost first and returns its
// error; also the error of creating options.run_dir.
absl::StatusOr<std::unique_ptr<HostBackend>> NewFreeBsdHostBackend(
    platform::FreeBsdKernel& kernel, const FreeBsdBackendOptions& options);

// The backend `server.backend` asks for on this host (auto: the host's
// own). FailedPrecondition for `freebsd` on Linux (its syscall seam binds
// to the FreeBSD kernel only) and for `linux` on FreeBSD, with a message
// saying so. On FreeBSD the FreeBSD backend is bound to the real kernel
// with options.run_dir as its run_dir, and CheckFreeBsdHost's errors are
// returned as they are.
absl::StatusOr<std::unique_ptr<HostBackend>> NewHostBackend(
    policy::Backend backend, const LinuxBackendOptions& options);

}  // namespace jailwarden::service
