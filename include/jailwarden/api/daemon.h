#pragma once

// What the REST API asks of the running daemon. The service layer
// implements it (wiring jail::Manager, the rule database, the sampler and
// the engine); the api layer only translates HTTP and JSON to these calls,
// so it is tested with a fake.
//
// Every method is called from the API server's handler threads, concurrently:
// implementations must be thread-safe. Errors are absl::Status; the API maps
// the code to an HTTP status and passes StatusErrno() on as the errno name.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jailwarden/engine/event_stream.h"
#include "jailwarden/platform/jail_runtime.h"
#include "jailwarden/platform/jail_spec.h"
#include "jailwarden/racct/snapshot.h"
#include "jailwarden/rctl/rctl_command.h"

namespace jailwarden::api {

// One rule with how the host backend enforces it.
struct RuleInfo {
  std::string rule;       // kernel form (rctl_get_rules)
  std::string fidelity;   // "exact", "approximate", "sampled", "unsupported"
  std::string mechanism;  // "memory.max", "pids.max", ...
  std::string detail;     // what differs, for approximate/unsupported
};

// One jail as `jailwarden list` shows it.
struct JailInfo {
  std::string name;
  std::string state;  // jail::JailStateName: stopped, starting, running, ...
  int64_t jid = -1;   // -1 when not running
  std::string path;
  std::string base_root;
  std::string hostname;
  std::vector<std::string> ip4;
  std::vector<std::string> depend;
  bool persist = false;
  bool in_policy = false;      // defined by the policy file (else by the API)
  std::string template_name;   // the policy template it came from, if any
  int64_t init_pid = -1;       // host pid of the jail's pid 1
  absl::Time started = absl::InfinitePast();
  std::vector<RuleInfo> limits;  // rules with subject jail:<name>
  // The supervised main process (`command:`, issue 17): set for a running
  // jail that has one and whose supervisor answered.
  std::optional<platform::MainProcessStatus> main;
  // Its healthcheck's state: "starting", "healthy", "unhealthy"; "" when
  // it has no healthcheck or does not run.
  std::string health;
  // Issue 13: what isolates it (JailRuntime::Isolation), for a running jail
  // on a backend that reports it.
  std::optional<platform::IsolationStatus> isolation;
  // An OCI container made by `jailwarden oci` that the daemon observes
  // read-only (docs/oci.md, "Daemon visibility"): the runtime root its
  // record is under ("" for jailwarden's own jails) and its bundle. The
  // daemon never stops, limits or destroys it; `state` is the runtime's
  // status (created, running, paused, stopped).
  std::string oci_root;
  std::string oci_bundle;
};

// POST /v1/jails.
struct CreateJailRequest {
  platform::JailSpec spec;           // ignored fields stay default
  std::string template_name;         // instead of spec: a policy template
  // Limits in rctl's jail form without the subject
  // ("memoryuse:deny=64M"); amounts through expand_number.
  std::vector<std::string> limits;
  bool start = false;
};

// POST /v1/run: a one-shot jail from a template or a spec.
struct RunRequest {
  std::string template_name;
  platform::JailSpec spec;
  std::vector<std::string> limits;
};

// What a start, stop, restart or destroy did: `changed` false when the jail
// already was as asked (start of a running jail, stop of a stopped one);
// `state` the jail's state after the call (jail::JailStateName, or
// "destroyed"); `previous` its state before ("" when unknown: an older
// daemon).
struct JailChange {
  bool changed = true;
  std::string state;
  std::string previous;
};

// Result of Apply.
struct ApplyResult {
  bool changed = false;
  std::string diff;  // policy::DescribeDiff, one change per line
  // Jails whose change failed (the policy is still the new one).
  std::vector<std::string> failures;
};

// GET /v1/status.
struct DaemonStatus {
  bool ready = false;
  std::string version;
  std::string backend;         // "linux", "freebsd"
  std::string policy_file;
  uint64_t policy_generation = 0;  // 1 for the policy loaded at start
  absl::Time last_reload = absl::InfinitePast();
  bool last_reload_ok = true;
  std::string last_reload_error;   // why the last reload was refused
  std::size_t jails = 0;
  std::size_t rules = 0;
  uint64_t sampler_ticks = 0;
  uint64_t events = 0;             // the id of the log's last event (0: none yet)
};

class Daemon {
 public:
  virtual ~Daemon() = default;

  virtual std::vector<JailInfo> ListJails() = 0;
  // NotFound for an unknown jail.
  virtual absl::StatusOr<JailInfo> GetJail(std::string_view name) = 0;
  // Issue 17: the directory of the jail's captured output (jail/logs.h).
  // NotFound for an unknown jail; Unimplemented where nothing is captured.
  virtual absl::StatusOr<std::string> JailLogDir(std::string_view name) {
    (void)name;
    return absl::UnimplementedError("this daemon does not capture jail output");
  }
  // InvalidArgument (bad spec or limit), AlreadyExists, NotFound (template).
  virtual absl::Status CreateJail(const CreateJailRequest& request) = 0;
  // Stops and forgets the jail and its limits. NotFound, FailedPrecondition.
  virtual absl::StatusOr<JailChange> DestroyJail(std::string_view name) = 0;
  virtual absl::StatusOr<JailChange> StartJail(std::string_view name) = 0;
  virtual absl::StatusOr<JailChange> StopJail(std::string_view name) = 0;
  virtual absl::StatusOr<JailChange> RestartJail(std::string_view name) = 0;
  // Runs a command in a running jail; its output goes to the request's fds.
  virtual absl::StatusOr<platform::ExecResult> Exec(
      std::string_view name, const platform::ExecRequest& request) = 0;
  // One-shot run (jail::Manager::Run).
  virtual absl::StatusOr<platform::ExecResult> Run(
      const RunRequest& run, const platform::ExecRequest& request) = 0;
  // The checks Run makes of `run` before anything is made (template, name,
  // limits), so that the API answers a bad request with an HTTP error
  // before its output stream starts. NotFound (template), InvalidArgument.
  // The default accepts everything (Run still checks).
  virtual absl::Status CheckRun(const RunRequest& run) {
    (void)run;
    return absl::OkStatus();
  }

  // The rule database as rctl(2) sees it (thread-safe). Rules added or
  // removed here take effect on running jails at once.
  virtual rctl::RctlBackend& Rctl() = 0;
  // The rules matching `filter` (kernel-form text) with their fidelity.
  virtual absl::StatusOr<std::vector<RuleInfo>> DescribeRules(
      std::string_view filter) = 0;

  // Replaces the running policy by `text` (SIGHUP's path with the text
  // given). InvalidArgument with every "FILE:LINE:COL: message" when the
  // policy is bad; then nothing changed. `dry_run` reports the diff only.
  virtual absl::StatusOr<ApplyResult> Apply(std::string_view text,
                                            std::string_view filename,
                                            bool dry_run) = 0;
  // `jailwarden set NAME KEY=VALUE...`: jail `name`'s policy keys changed
  // (each value YAML text; "" removes the key) and the result applied as
  // Apply would, durable before it answers (the policy of record). The
  // result's diff says what restarts. InvalidArgument (unknown key, bad
  // value: "FILE:LINE:COL: message" lines), NotFound (no such jail in the
  // policy), FailedPrecondition (no policy file); nothing changed then.
  // Unimplemented on a daemon without a policy to edit.
  virtual absl::StatusOr<ApplyResult> SetJailKeys(
      std::string_view name, const std::vector<std::pair<std::string, std::string>>& keys,
      bool dry_run) {
    (void)name;
    (void)keys;
    (void)dry_run;
    return absl::UnimplementedError("this daemon does not change jail keys");
  }

  virtual DaemonStatus Status() = 0;
  // The sampler's latest snapshot, or nullptr before the first tick.
  virtual std::shared_ptr<const racct::Snapshot> LatestSnapshot() = 0;
  // The daemon's event log: lifecycle, health, policy and the devctl-style
  // rule-match lines (engine/event_stream.h).
  virtual engine::EventStream& Events() = 0;
};

}  // namespace jailwarden::api
