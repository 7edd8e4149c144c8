#pragma once

// The host backend as the daemon sees it: the three platform pieces
// (JailRuntime, UsageReader, LimitEnforcer) plus the registration of
// running jails with the reader and the enforcer, chosen once at start.
// Linux is the only backend `jailwarden serve` runs on a Linux host; tests
// build one from fakes.

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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
};

struct LinuxBackendOptions {
  std::string run_dir;  // per-jail scratch, absolute
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
// outlive the machine): /run/jailwarden for the default state directory
// (systemd's RuntimeDirectory=, tmpfs), <state_dir>/run otherwise.
std::string RunDirFor(std::string_view state_dir);

// The Linux backend (namespaces, cgroups, /proc). Errors from the
// platform constructors (no usable cgroup hierarchy, no jailwarden-init).
absl::StatusOr<std::unique_ptr<HostBackend>> NewLinuxHostBackend(
    const LinuxBackendOptions& options);

// The backend `server.backend` asks for on this host. FailedPrecondition
// for `freebsd` on Linux (its syscall seam binds to the FreeBSD kernel
// only) with a message saying so.
absl::StatusOr<std::unique_ptr<HostBackend>> NewHostBackend(
    policy::Backend backend, const LinuxBackendOptions& options);

}  // namespace jailwarden::service
