#pragma once

// service::Daemon: `jailwarden serve` wired together
// (../shared/design/architecture.md §2). It loads the policy, adopts the
// jails a previous run left, creates and starts what the policy says should
// run (dependencies first), installs the rules, samples usage, evaluates
// the rules on every tick, and answers the REST API and /metrics on one
// libmicrohttpd server (HttpEndpoints).
//
// The daemon is wiring only; each job is a room of its own (docs/
// architecture.md): RuleDatabase (the rule set, all-or-nothing changes, the
// published RuleSnapshot), JailRegistry (running jails ↔ reader and
// enforcer), TickRouter (engine decisions → actions on a worker), Lifecycle
// (serialized jail changes), Reloader (SIGHUP, `apply`), and the API views.
//
// Thread-safety: every public method is thread-safe. State-changing calls
// are serialized by the Lifecycle's lock; reads (rules, usage, lists) never
// wait for a jail to start: they read published copies.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jailwarden/api/daemon.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/racct/sampler.h"
#include "jailwarden/service/health_checker.h"
#include "jailwarden/service/host_backend.h"
#include "jailwarden/service/oci_watcher.h"
#include "jailwarden/service/state_dir_lock.h"

namespace jailwarden::service {

// <state_dir>/event-id: the event log's id high-water mark
// (engine::EventStream::OpenHighWater).
inline constexpr char kEventIdFile[] = "event-id";

struct DaemonOptions {
  // The policy file SIGHUP re-reads ("" for a daemon made from text only).
  std::string config_path;
  // Overrides server.listen (tests: "127.0.0.1:0"). Empty = the policy's.
  std::vector<std::string> listen;
  // Overrides server.web_config (serve --web.config.file). Empty = the
  // policy's.
  std::string web_config;
  // Stop every running jail on Shutdown (default: jails outlive the daemon,
  // as jails outlive jail(8)).
  bool stop_jails_on_exit = false;
  // Serve HTTP at all (unit tests drive the api::Daemon methods directly).
  bool serve_http = true;
  // Start the sampler thread (tests may tick by hand: sampler().TickOnce()).
  bool run_sampler = true;
  // How often jails that ended by themselves are noticed, limits
  // reconciled and the published jail list refreshed.
  absl::Duration maintenance_interval = absl::Seconds(1);
  // The state directory's lock, when the caller took it before making the
  // backend (`jailwarden serve`). Null: Start takes it itself, first of
  // all. Held until the Daemon is destroyed.
  std::shared_ptr<StateDirLock> state_lock;
  // Called on the sampler's thread after every tick has been routed
  // (`serve` feeds systemd's watchdog from it). Must not block.
  std::function<void()> on_tick;
  // OCI containers shown read-only (service/oci_watcher.h): the runtime
  // roots to read at every maintenance pass and the reader of one root
  // (src/main.cc hands in the oci layer's). Empty: none shown.
  std::vector<std::string> oci_roots;
  OciScanner oci_scanner;
};

class Daemon final : public api::Daemon {
 public:
  // Does everything up to ready (see the file comment). Errors: another
  // daemon holds the state directory (Unavailable with its pid, nothing
  // adopted or changed; see StateDirLock), the policy's backend refused
  // (FailedPrecondition), the state store or token file unusable, the
  // listeners unavailable (Unavailable). A jail that
  // fails to start is logged and reported in ListJails, not fatal.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(
      DaemonOptions options, policy::Policy policy,
      std::unique_ptr<HostBackend> backend);
  ~Daemon() override;  // Shutdown()

  // Stops the API, the sampler and the maintenance thread; with
  // stop_jails_on_exit also every jail. Idempotent.
  void Shutdown();

  // SIGHUP: re-reads options.config_path. InvalidArgument with every
  // "FILE:LINE:COL: message" when the new policy is bad (nothing changed).
  absl::StatusOr<api::ApplyResult> ReloadFromFile();

  // The bound TCP ports (after Start with serve_http).
  std::vector<int> ports() const;
  // The API token ("" without serve_http).
  const std::string& token() const;
  // Every checked jail's health (HealthChecker::States).
  std::map<std::string, JailHealth> Health() const;
  // The sampler; TickOnce() runs one tick and its evaluation synchronously.
  racct::Sampler& sampler();

  // api::Daemon.
  std::vector<api::JailInfo> ListJails() override;
  absl::StatusOr<api::JailInfo> GetJail(std::string_view name) override;
  absl::StatusOr<std::string> JailLogDir(std::string_view name) override;
  absl::Status CreateJail(const api::CreateJailRequest& request) override;
  absl::StatusOr<api::JailChange> DestroyJail(std::string_view name) override;
  absl::StatusOr<api::JailChange> StartJail(std::string_view name) override;
  absl::StatusOr<api::JailChange> StopJail(std::string_view name) override;
  absl::StatusOr<api::JailChange> RestartJail(std::string_view name) override;
  absl::StatusOr<platform::ExecResult> Exec(
      std::string_view name, const platform::ExecRequest& request) override;
  absl::Status CheckRun(const api::RunRequest& run) override;
  absl::StatusOr<platform::ExecResult> Run(
      const api::RunRequest& run, const platform::ExecRequest& request) override;
  rctl::RctlBackend& Rctl() override;
  absl::StatusOr<std::vector<api::RuleInfo>> DescribeRules(
      std::string_view filter) override;
  absl::StatusOr<api::ApplyResult> Apply(std::string_view text,
                                         std::string_view filename,
                                         bool dry_run) override;
  absl::StatusOr<api::ApplyResult> SetJailKeys(
      std::string_view name, const std::vector<std::pair<std::string, std::string>>& keys,
      bool dry_run) override;
  api::DaemonStatus Status() override;
  std::shared_ptr<const racct::Snapshot> LatestSnapshot() override;
  engine::EventStream& Events() override;

  struct Impl;

 private:
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace jailwarden::service
