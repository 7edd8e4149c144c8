#pragma once

// service::HealthChecker (issue 17): runs each running jail's policy
// `healthcheck:` command inside the jail, through the same path as
// `jailwarden exec` (jail::Manager::Exec: the jail's root, inside its
// namespaces, cgroup and limits), and keeps each jail's health:
//   starting  — since the jail started, until the first passing check
//               (failures inside start_period are not counted);
//   healthy   — the last check passed (exit 0 within the timeout);
//   unhealthy — `retries` checks in a row failed; on_failure then acts
//               (restart or stop through Lifecycle, counted).
// Every change of state is a health_changed event
// {"from","to","failures","exit_code"|"signal"|"timed_out"|"error"}.
//
// A jail's root controls the check's command and can make it hang, exit
// at will or eat CPU; it cannot make the checker block: at most one check
// is in flight per jail, at most `max_concurrent` in all (a fixed pool of
// worker threads), and each is killed at its timeout by the exec path. A
// jail whose check is still running is simply not scheduled again. A
// check's output goes to /dev/null.
//
// Thread-safety: every public method is thread-safe. Lock: mu_ (states,
// queue); never held while a check runs or an action is taken.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jailwarden/engine/event_stream.h"
#include "jailwarden/jail/state_store.h"
#include "jailwarden/platform/jail_runtime.h"
#include "jailwarden/policy/policy.h"

namespace jailwarden::service {

// One jail's health as list, GET /v1/jails/NAME and /metrics show it.
struct JailHealth {
  std::string state;         // "starting", "healthy", "unhealthy"
  int64_t failures = 0;      // failed checks in a row (counted ones)
  int64_t checks = 0;        // checks run since the daemon started
  int64_t actions = 0;       // on_failure restarts/stops taken
  absl::Time last_check = absl::InfinitePast();
};

struct HealthCheckerOptions {
  int max_concurrent = 4;                       // worker threads
  absl::Duration poll = absl::Milliseconds(200);  // how often due checks are looked for
};

// A running jail as the checker needs it: its start identifies a run (a
// restart is a new one, starting over).
struct HealthTarget {
  std::string name;
  int64_t init_pid = -1;
  absl::Time started = absl::InfinitePast();
  policy::HealthCheckPolicy check;
};

// The check `rec`'s jail gets from `policy`: its own `healthcheck:` when
// the policy defines the jail; for a jail an API create made from a
// template (`spec.template_name`), the template's as the policy has it now
// (a reload that changes the template changes the check); null otherwise.
const policy::HealthCheckPolicy* HealthCheckFor(const policy::Policy& policy,
                                                const jail::JailRecord& rec);

// The running, non-ephemeral jails of `records` that have a check, as the
// checker's TargetsFn hands them over.
std::vector<HealthTarget> HealthTargets(const policy::Policy& policy,
                                        const std::vector<jail::JailRecord>& records);

class HealthChecker {
 public:
  using TargetsFn = std::function<std::vector<HealthTarget>()>;
  using RunFn = std::function<absl::StatusOr<platform::ExecResult>(
      const std::string& jail, const platform::ExecRequest& request)>;
  // Takes `action` on `jail` (restart or stop); called on a worker thread
  // without mu_ held; may block for as long as the change takes.
  using ActFn = std::function<absl::Status(const std::string& jail, policy::HealthAction action)>;

  // `events` may be null (no events). Everything must outlive the checker.
  HealthChecker(HealthCheckerOptions options, TargetsFn targets, RunFn run, ActFn act,
                engine::EventStream* events);
  ~HealthChecker();  // Stop()

  void Start();
  // Stops scheduling and joins the threads (a running check is waited
  // for; it ends at its timeout). Idempotent.
  void Stop();

  // One scheduling pass (what the scheduler thread does every poll):
  // new runs start as "starting", due checks queued. For tests.
  void ScheduleOnce(absl::Time now);

  // Health of every running jail that has a check.
  std::map<std::string, JailHealth> States() const;

 private:
  struct Entry {
    HealthTarget target;
    JailHealth health;
    absl::Time run_started = absl::InfinitePast();  // start_period counts from here
    absl::Time next_due = absl::InfinitePast();
    bool in_flight = false;
    bool gone = false;  // the jail stopped while its check was in flight
  };
  void SchedulerLoop();
  void WorkerLoop();
  void RunOne(const std::string& name);

  const HealthCheckerOptions options_;
  TargetsFn targets_;
  RunFn run_;
  ActFn act_;
  engine::EventStream* events_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace jailwarden::service
