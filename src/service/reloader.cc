#include "jailwarden/service/reloader.h"

#include <algorithm>
#include <set>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/diff.h"
#include "jailwarden/policy/checks.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/service/policy_record.h"

namespace jailwarden::service {
namespace {

// The rule changes of `plan` the policy diff does not already name: drift
// between the policy (plus runtime additions) and the rules in force.
// "rule +X (drift: not in force)" for a policy rule removed at runtime,
// "rule -X (drift: ...)" for a rule in force that goes.
std::string DescribeDrift(const RulePlan& plan, const policy::PolicyDiff& diff) {
  auto named = [](const std::vector<rctl::Rule>& rules, const rctl::Rule& r) {
    return std::find(rules.begin(), rules.end(), r) != rules.end();
  };
  std::string out;
  for (const rctl::Rule& r : plan.to_remove) {
    if (named(diff.rules_to_remove, r)) continue;
    StrAppend(&out, "rule -", rctl::FormatRule(r), " (drift: not in the policy)\n");
  }
  for (const rctl::Rule& r : plan.to_add) {
    if (named(diff.rules_to_add, r)) continue;
    StrAppend(&out, "rule +", rctl::FormatRule(r), " (drift: not in force)\n");
  }
  return out;
}

}  // namespace

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
  return ApplyThen(policy::LoadPolicyFile(config_path_), false, DropPolicyRecord);
}

absl::StatusOr<api::ApplyResult> Reloader::ApplyText(std::string_view text,
                                                     std::string_view filename, bool dry_run) {
  if (config_path_.empty()) {
    return Apply(policy::LoadPolicyText(text, filename), dry_run);
  }
  auto record = [this, text, filename](const std::string& state_dir) -> absl::Status {
    // The configuration file's own text: back to it. (Bounded read; a
    // file that cannot be read now is "another text".)
    absl::StatusOr<std::string> config = policy::ReadPolicyFileBounded(config_path_);
    if (config.ok() && *config == text) {
      return DropPolicyRecord(state_dir);
    }
    JW_RETURN_IF_ERROR(WritePolicyRecord(state_dir, text, filename));
    LogInfo("policy of record written: a restart runs this policy, not the configuration "
            "file's, until SIGHUP or an apply of the configuration file",
            {{"from", std::string(filename)}, {"file", PolicyRecordPath(state_dir)}});
    return absl::OkStatus();
  };
  return ApplyThen(policy::LoadPolicyText(text, filename), dry_run, record);
}

absl::StatusOr<api::ApplyResult> Reloader::SetJailKeys(
    std::string_view name, const std::vector<policy::JailKeyValue>& keys, bool dry_run) {
  return lifecycle_.Serialized([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS
                               -> absl::StatusOr<api::ApplyResult> {
    // A jail created through the API: its spec is runtime state.
    if (lifecycle_.PolicyLocked().FindJail(name) == nullptr) {
      absl::StatusOr<jail::JailRecord> rec = lifecycle_.manager().Get(name);
      if (rec.ok() && !rec->ephemeral) return lifecycle_.SetApiJailKeysLocked(name, keys, dry_run);
    }
    if (config_path_.empty()) {
      return absl::FailedPreconditionError(
          "this daemon runs without a configuration file (serve --config): there is no "
          "policy text whose jail keys set could change; use apply -f");
    }
    const std::string state_dir = lifecycle_.PolicyLocked().server.state_dir;
    // The text in force: the record when there is one, else the file.
    const std::string record = PolicyRecordPath(state_dir);
    absl::StatusOr<std::string> text = policy::ReadPolicyFileBounded(record);
    std::string source = record;
    if (!text.ok() && absl::IsNotFound(text.status())) {
      text = policy::ReadPolicyFileBounded(config_path_);
      source = config_path_;
    }
    if (!text.ok()) return text.status();
    // The record's own header line is written again below, once.
    if (source == record) *text = std::string(StripPolicyRecordHeader(*text));
    JW_ASSIGN_OR_RETURN(std::string edited,
                        policy::SetJailKeysInText(*text, source, name, keys));
    const std::string label = StrCat("set ", name);
    absl::StatusOr<policy::Policy> loaded = policy::LoadPolicyText(edited, label);
    if (!loaded.ok()) return loaded.status();
    // The server section runs from the configuration file (as at start-up
    // with a record): a set never changes it.
    loaded->server = lifecycle_.PolicyLocked().server;
    absl::StatusOr<api::ApplyResult> r = ApplyLocked(*std::move(loaded), dry_run);
    if (!r.ok() || dry_run) return r;
    absl::StatusOr<std::string> config = policy::ReadPolicyFileBounded(config_path_);
    absl::Status recorded = config.ok() && *config == edited
                                ? DropPolicyRecord(state_dir)
                                : WritePolicyRecord(state_dir, edited, label);
    if (!recorded.ok()) {
      LogError("policy of record not updated", {{"error", std::string(recorded.message())}});
      r->failures.push_back(StrCat("policy of record not updated: ", ToStd(recorded.message())));
    }
    return r;
  });
}

absl::StatusOr<api::ApplyResult> Reloader::Apply(absl::StatusOr<policy::Policy> loaded,
                                                 bool dry_run) {
  return ApplyThen(std::move(loaded), dry_run, nullptr);
}

absl::StatusOr<api::ApplyResult> Reloader::ApplyThen(
    absl::StatusOr<policy::Policy> loaded, bool dry_run,
    const std::function<absl::Status(const std::string&)>& after) {
  if (!loaded.ok()) {
    Record(false, std::string(loaded.status().message()));
    LogError("policy reload refused; the running policy stays",
             {{"error", std::string(loaded.status().message())}});
    return loaded.status();
  }
  return lifecycle_.Serialized([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    // The state directory in use before the apply (server settings take
    // effect only at a restart).
    const std::string state_dir = lifecycle_.PolicyLocked().server.state_dir;
    absl::StatusOr<api::ApplyResult> r = ApplyLocked(*std::move(loaded), dry_run);
    if (r.ok() && !dry_run && after) {
      if (absl::Status s = after(state_dir); !s.ok()) {
        LogError("policy of record not updated", {{"error", std::string(s.message())}});
        r->failures.push_back(StrCat("policy of record not updated: ", ToStd(s.message())));
      }
    }
    return r;
  });
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
  // The rules are diffed against what is in force, not only policy against
  // policy: a policy rule removed at runtime (`rctl -r`) is drift that this
  // apply repairs, and says so.
  const std::set<std::string> dropped(diff.jails_to_remove.begin(),
                                      diff.jails_to_remove.end());
  const std::vector<rctl::Rule> next_rules = next.AllRules().rules();
  const RulePlan plan = rules_.PlanPolicy(next_rules, PolicyMode::kReload, dropped);
  api::ApplyResult result;
  result.diff = policy::DescribeDiff(diff) + DescribeDrift(plan, diff);
  result.changed = !diff.empty() || !plan.empty();
  if (dry_run) return result;

  for (const std::string& key : diff.server_changes) {
    LogWarning("server setting changed; it takes effect when jailwarden restarts",
               {{"key", key}});
  }
  jail::Manager& manager = lifecycle_.manager();
  const Lifecycle::JailStates before = lifecycle_.JailStatesLocked();
  // The intent, durably, before the first step: a kill from here on is
  // completed by the next daemon (Lifecycle::ApplyInitialPolicy).
  absl::StatusOr<uint64_t> op = lifecycle_.BeginOpLocked(
      "apply", {{"remove", diff.jails_to_remove}, {"restart", diff.jails_to_restart}});
  if (!op.ok()) {
    const std::string why = StrCat("apply not recorded: ", ToStd(op.status().message()));
    Record(false, why);
    return absl::Status(op.status().code(), ToAbsl(why));
  }
  // 1. Jails the policy no longer has.
  for (const std::string& name : diff.jails_to_remove) {
    absl::Status s = manager.Destroy(name);
    if (s.ok()) {
      LogInfo("jail removed by reload", {{"jail", name}});
    } else if (s.code() != absl::StatusCode::kNotFound) {
      LogError("jail removal failed", {{"jail", name}, {"error", std::string(s.message())}});
      result.failures.push_back(StrCat(name, ": ", ToStd(s.message())));
    }
    lifecycle_.StepOpLocked(*op, StrCat("removed:", name));
  }
  lifecycle_.SyncLocked();
  // 2. The rule database, in one step.
  absl::Status swapped = rules_.ApplyPolicy(next_rules, PolicyMode::kReload, dropped);
  if (!swapped.ok()) {
    const std::string why =
        StrCat("new limits could not be applied: ", ToStd(swapped.message()));
    Record(false, why);
    LogError("policy reload refused; the running policy stays", {{"error", why}});
    lifecycle_.EndOpLocked(*op);
    lifecycle_.PublishChangesLocked(before, {}, "reload");
    return absl::Status(swapped.code(), ToAbsl(why));
  }
  lifecycle_.StepOpLocked(*op, "rules");
  for (const rctl::Rule& r : plan.to_remove) {
    LogInfo("rule removed", {{"rule", rctl::FormatRule(r)}, {"jail", r.subject_id}});
  }
  for (const rctl::Rule& r : plan.to_add) {
    const bool drift = std::find(diff.rules_to_add.begin(), diff.rules_to_add.end(), r) ==
                       diff.rules_to_add.end();
    LogInfo(drift ? "rule restored (removed at runtime)" : "rule added",
            {{"rule", rctl::FormatRule(r)}, {"jail", r.subject_id}});
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
    lifecycle_.StepOpLocked(*op, StrCat("restarted:", name));
  }
  for (std::string& f : lifecycle_.EnsurePolicyJailsLocked()) {
    result.failures.push_back(std::move(f));
  }
  lifecycle_.StepOpLocked(*op, "jails");
  // Which jails the policy defines, for the next start-up
  // (server.stop_removed_jails).
  if (absl::Status s = lifecycle_.RecordPolicyJailsLocked(); !s.ok()) {
    result.failures.push_back(StrCat("policy-jails record: ", ToStd(s.message())));
  }
  lifecycle_.EndOpLocked(*op);
  Record(true, "");
  lifecycle_.PublishChangesLocked(
      before, std::set<std::string>(diff.jails_to_restart.begin(), diff.jails_to_restart.end()),
      "reload");
  lifecycle_.Publish(engine::kEventPolicyReloaded, "",
                     {{"generation", static_cast<int64_t>(status().policy_generation)},
                      {"changed", int64_t{result.changed ? 1 : 0}},
                      {"failures", static_cast<int64_t>(result.failures.size())}});
  LogInfo("policy applied", {{"changes", result.diff.empty() ? "none" : result.diff},
                             {"failures", StrCat(result.failures.size())}});
  return result;
}

}  // namespace jailwarden::service
