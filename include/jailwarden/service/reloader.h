#pragma once

// service::Reloader: a new policy (SIGHUP, `jailwarden apply`) made true in
// one serialized step. The new policy is loaded and validated first; a bad
// one changes nothing and its reason is kept for Status(). Then, in order:
// jails no longer in the policy are stopped and destroyed; the rule
// database changes in one step to the new policy's rules plus the runtime
// additions (RuleDatabase::ApplyPolicy, diffed against the rules in force,
// so a policy rule removed at runtime is drift that comes back and that
// `apply -n` reports as "rule +X (drift: not in force)"; a backend refusal
// leaves the old rules and refuses the reload); running jails get their new limits without a
// restart; jails whose definition changed are restarted; new jails are
// created; every policy jail that is not running is started. The apply is
// journaled (Lifecycle::BeginOpLocked: the jails to remove and restart
// before the first step, each step after it): a daemon killed in the middle
// completes its removals at the next start. At the end the policy's jail
// names are recorded for the next start-up (server.stop_removed_jails).
//
// Thread-safety: thread-safe; Apply runs under the Lifecycle's lock.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "jailwarden/api/daemon.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/service/lifecycle.h"
#include "jailwarden/service/rule_database.h"

namespace jailwarden::service {

// What the last reload did, for api::DaemonStatus.
struct ReloadStatus {
  uint64_t policy_generation = 1;
  absl::Time last_reload = absl::InfinitePast();
  bool last_reload_ok = true;
  std::string last_reload_error;
};

class Reloader {
 public:
  // `config_path`: the file SIGHUP re-reads ("" when there is none).
  Reloader(std::string config_path, Lifecycle& lifecycle, RuleDatabase& rules)
      : config_path_(std::move(config_path)), lifecycle_(lifecycle), rules_(rules) {}

  // `loaded` is the result of loading the new policy; with `dry_run` only
  // the difference is reported. InvalidArgument with every
  // "FILE:LINE:COL: message" when the policy is bad; FailedPrecondition
  // when it asks for another backend; the backend's error when the new
  // limits cannot be applied. In each of those cases nothing changed.
  absl::StatusOr<api::ApplyResult> Apply(absl::StatusOr<policy::Policy> loaded,
                                         bool dry_run) ABSL_LOCKS_EXCLUDED(mu_);
  // SIGHUP: Apply of config_path; on success the policy of record
  // (policy_record.h) is the configuration file again.
  absl::StatusOr<api::ApplyResult> ReloadFromFile() ABSL_LOCKS_EXCLUDED(mu_);
  // `apply -f FILENAME`: Apply of `text`. On success (not a dry run) and
  // with a configuration file, `text` becomes the policy of record unless
  // it is the configuration file's current text, which drops the record;
  // both under the control lock, before the call answers. A record that
  // cannot be written is one of the result's failures (the policy applied
  // stays in force until the next start).
  absl::StatusOr<api::ApplyResult> ApplyText(std::string_view text, std::string_view filename,
                                             bool dry_run) ABSL_LOCKS_EXCLUDED(mu_);

  // `jailwarden set NAME KEY=VALUE...` (PATCH /v1/jails/NAME): under the
  // control lock, the text of the policy in force (the policy of record,
  // else the configuration file) with jail `name`'s keys changed
  // (policy::SetJailKeysInText), loaded and validated as any policy, then
  // applied as `apply -f` of that text (the changed jail restarted, limits
  // without a restart; the diff says which) and written as the policy of
  // record before the call answers, so a restart keeps it. Errors, each
  // with nothing changed: FailedPrecondition without a configuration file;
  // NotFound when the policy defines no such jail; InvalidArgument for an
  // unknown key, a value that is not YAML or that the loader refuses
  // ("set NAME:LINE:COL: jail 'NAME': ..."); the backend's error as Apply.
  // A jail the policy does not define but the API created is changed by
  // Lifecycle::SetApiJailKeysLocked instead (its config.json, journaled; no
  // configuration file needed).
  absl::StatusOr<api::ApplyResult> SetJailKeys(std::string_view name,
                                               const std::vector<policy::JailKeyValue>& keys,
                                               bool dry_run) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& config_path() const { return config_path_; }
  ReloadStatus status() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Apply, then (on success, not dry) `after(state_dir)` under the same
  // control lock; its error is added to the result's failures.
  absl::StatusOr<api::ApplyResult> ApplyThen(
      absl::StatusOr<policy::Policy> loaded, bool dry_run,
      const std::function<absl::Status(const std::string&)>& after);
  absl::StatusOr<api::ApplyResult> ApplyLocked(policy::Policy next, bool dry_run);
  void Record(bool ok, std::string error) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string config_path_;
  Lifecycle& lifecycle_;
  RuleDatabase& rules_;
  mutable absl::Mutex mu_;
  ReloadStatus status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jailwarden::service
