#include "jailwarden/service/reloader.h"

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/diff.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::service {

ReloadStatus Reloader::status() const {
  absl::MutexLock l(&mu_);
  return status_;
}

void Reloader::Record(bool ok, std::string error) {
  absl::MutexLock l(&mu_);
  status_.last_reload = absl::Now();
  status_.last_reload_ok = ok;
  status_.last_reload_error = std::move(error);
  if (ok) ++status_.policy_generation;
}

absl::StatusOr<api::ApplyResult> Reloader::ReloadFromFile() {
  LogInfo("reloading policy", {{"file", config_path_}});
  return Apply(policy::LoadPolicyFile(config_path_), false);
}

absl::StatusOr<api::ApplyResult> Reloader::Apply(absl::StatusOr<policy::Policy> loaded,
                                                 bool dry_run) {
  if (!loaded.ok()) {
    Record(false, std::string(loaded.status().message()));
    LogError("policy reload refused; the running policy stays",
             {{"error", std::string(loaded.status().message())}});
    return loaded.status();
  }
  return lifecycle_.Serialized(
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return ApplyLocked(*std::move(loaded), dry_run); });
}

absl::StatusOr<api::ApplyResult> Reloader::ApplyLocked(policy::Policy next, bool dry_run)
    ABSL_NO_THREAD_SAFETY_ANALYSIS {
  const policy::Policy& running = lifecycle_.PolicyLocked();
  if (next.server.backend != running.server.backend &&
      next.server.backend == policy::Backend::kFreeBsd) {
    const std::string why =
        StrCat("server.backend changed to ", policy::BackendName(next.server.backend),
               "; restart jailwarden to change backends");
    Record(false, why);
    return absl::FailedPreconditionError(ToAbsl(why));
  }
  const policy::PolicyDiff diff = policy::Diff(running, next);
  api::ApplyResult result;
  result.diff = policy::DescribeDiff(diff);
  result.changed = !diff.empty();
  if (dry_run) return result;

  for (const std::string& key : diff.server_changes) {
    LogWarning("server setting changed; it takes effect when jailwarden restarts",
               {{"key", key}});
  }
  jail::Manager& manager = lifecycle_.manager();
  // 1. Jails the policy no longer has.
  for (const std::string& name : diff.jails_to_remove) {
    absl::Status s = manager.Destroy(name);
    if (s.ok()) {
      LogInfo("jail removed by reload", {{"jail", name}});
    } else if (s.code() != absl::StatusCode::kNotFound) {
      LogError("jail removal failed", {{"jail", name}, {"error", std::string(s.message())}});
      result.failures.push_back(StrCat(name, ": ", ToStd(s.message())));
    }
  }
  lifecycle_.SyncLocked();
  // 2. The rule database, in one step.
  absl::Status swapped = rules_.Mutate([&](RuleDraft& draft) -> absl::Status {
    for (const rctl::Rule& r : diff.rules_to_remove) (void)draft.Remove(r);
    for (const rctl::Rule& r : diff.rules_to_add) JW_RETURN_IF_ERROR(draft.Add(r));
    return absl::OkStatus();
  });
  if (!swapped.ok()) {
    const std::string why =
        StrCat("new limits could not be applied: ", ToStd(swapped.message()));
    Record(false, why);
    LogError("policy reload refused; the running policy stays", {{"error", why}});
    return absl::Status(swapped.code(), ToAbsl(why));
  }
  for (const rctl::Rule& r : diff.rules_to_remove) {
    LogInfo("rule removed", {{"rule", rctl::FormatRule(r)}, {"jail", r.subject_id}});
  }
  for (const rctl::Rule& r : diff.rules_to_add) {
    LogInfo("rule added", {{"rule", rctl::FormatRule(r)}, {"jail", r.subject_id}});
  }
  for (const std::string& name : diff.jails_with_only_limits_changed) {
    LogInfo("jail limits changed without restart", {{"jail", name}});
  }
  // 3. Changed and new jails, then everything that should run.
  lifecycle_.SetPolicyLocked(std::move(next));
  const policy::Policy& now = lifecycle_.PolicyLocked();
  for (const std::string& name : diff.jails_to_restart) {
    const policy::JailPolicy* jp = now.FindJail(name);
    if (jp == nullptr) continue;
    absl::Status s = manager.Update(jp->spec);
    if (s.ok()) s = manager.Restart(name);
    LogInfo("jail restarted by reload", {{"jail", name}});
    if (!s.ok()) result.failures.push_back(StrCat(name, ": ", ToStd(s.message())));
  }
  for (std::string& f : lifecycle_.EnsurePolicyJailsLocked()) {
    result.failures.push_back(std::move(f));
  }
  Record(true, "");
  LogInfo("policy applied", {{"changes", result.diff.empty() ? "none" : result.diff},
                             {"failures", StrCat(result.failures.size())}});
  return result;
}

}  // namespace jailwarden::service
