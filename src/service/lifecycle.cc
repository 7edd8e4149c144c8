#include "jailwarden/service/lifecycle.h"

#include <unistd.h>

#include <cerrno>
#include <set>
#include <span>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/checks.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/user_form.h"

namespace jailwarden::service {
namespace {

// A limit as the API takes it ("memoryuse:deny=64M") turned into a kernel
// rule for jail `name`, as a policy's `limits:` entry would be (the one
// checker, policy/checks.h).
absl::StatusOr<rctl::Rule> LimitRule(std::string_view name, std::string_view limit) {
  return policy::CheckRule(StrCat("jail:", name, ":", limit),
                           {policy::RuleUse::kJailLimit, true, nullptr});
}

// Adds `rules` in one change.
absl::Status AddAll(RuleDatabase& db, std::span<const rctl::Rule> rules,
                    Durability durability = Durability::kRecorded) {
  return db.Mutate(
      [&](RuleDraft& draft) -> absl::Status {
        for (const rctl::Rule& r : rules) JW_RETURN_IF_ERROR(draft.Add(r));
        return absl::OkStatus();
      },
      durability);
}

rctl::Rule JailFilter(std::string_view name) {
  rctl::Rule filter;
  filter.subject = rctl::SubjectType::kJail;
  filter.subject_id = std::string(name);
  return filter;
}

}  // namespace

Lifecycle::Lifecycle(policy::Policy policy, jail::Manager& manager, RuleDatabase& rules,
                     JailRegistry& registry)
    : manager_(manager), rules_(rules), registry_(registry), policy_(std::move(policy)) {
  published_policy_.Store(std::make_shared<const policy::Policy>(policy_));
}

void Lifecycle::SetPolicyLocked(policy::Policy next) {
  policy_ = std::move(next);
  published_policy_.Store(std::make_shared<const policy::Policy>(policy_));
}

void Lifecycle::SyncLocked() { registry_.Sync(manager_.List()); }

absl::StatusOr<std::vector<std::string>> Lifecycle::ApplyInitialPolicy() {
  absl::MutexLock l(&mu_);
  // The rules in force before the restart: the policy's, minus the runtime
  // removals, plus the runtime additions (RuleDatabase::OpenRecord).
  JW_RETURN_IF_ERROR(rules_.ApplyPolicy(policy_.AllRules().rules(), PolicyMode::kStartUp));
  return EnsurePolicyJailsLocked();
}

std::vector<std::string> Lifecycle::EnsurePolicyJailsLocked() {
  std::vector<std::string> failures;
  for (const std::string& name : policy_.StartOrder()) {
    const policy::JailPolicy* jp = policy_.FindJail(name);
    if (jp == nullptr) continue;
    absl::StatusOr<jail::JailRecord> rec = manager_.Get(name);
    absl::Status s;
    if (!rec.ok()) {
      s = manager_.Create(jp->spec);
      if (s.ok()) LogInfo("jail defined", {{"jail", name}});
    } else if (!(rec->spec == jp->spec)) {
      s = manager_.Update(jp->spec);
      if (s.ok() && rec->state == jail::JailState::kRunning) {
        LogInfo("jail definition changed; restarting", {{"jail", name}});
        s = manager_.Restart(name);
      }
    }
    if (s.ok()) s = manager_.Start(name);
    if (!s.ok()) {
      LogError("jail failed to start", {{"jail", name}, {"error", std::string(s.message())}});
      failures.push_back(StrCat(name, ": ", ToStd(s.message())));
    }
  }
  SyncLocked();
  return failures;
}

absl::StatusOr<std::vector<rctl::Rule>> Lifecycle::LimitsFor(
    const platform::JailSpec& spec, std::string_view template_name,
    const std::vector<std::string>& limits, platform::JailSpec* out) {
  *out = spec;
  std::vector<rctl::Rule> rules;
  if (!template_name.empty()) {
    JW_ASSIGN_OR_RETURN(policy::JailPolicy jp,
                        policy::InstantiateTemplate(policy_, template_name, spec.name));
    *out = jp.spec;
    rules = jp.limits;
  }
  std::vector<rctl::Rule> given;
  std::vector<std::string> texts;
  for (const std::string& text : limits) {
    JW_ASSIGN_OR_RETURN(rctl::Rule rule, LimitRule(out->name, text));
    given.push_back(std::move(rule));
    texts.push_back(StrCat("jail:", out->name, ":", text));
  }
  // Two given limits of which the kernel would keep one: refused, as the
  // policy loader refuses them in one jail's limits:. A given limit
  // replaces the template's with the same key (as a jail's limits: does a
  // template's).
  if (std::optional<std::string> dup = policy::DuplicateRuleProblem(given, texts)) {
    return ErrnoStatusWithMessage(EINVAL, *dup);
  }
  std::set<std::string> keys;
  for (const rctl::Rule& r : given) keys.insert(policy::RuleKey(r));
  std::erase_if(rules, [&](const rctl::Rule& r) { return keys.count(policy::RuleKey(r)) != 0; });
  rules.insert(rules.end(), given.begin(), given.end());
  return rules;
}

absl::Status Lifecycle::DropTransientJailRules(const std::string& name) {
  return rules_.Mutate(
      [&](RuleDraft& draft) -> absl::Status {
        absl::StatusOr<int> removed = draft.Remove(JailFilter(name));
        if (!removed.ok() && removed.status().code() != absl::StatusCode::kNotFound) {
          return removed.status();
        }
        return absl::OkStatus();
      },
      Durability::kTransient);
}

absl::Status Lifecycle::CreateJail(const api::CreateJailRequest& request) {
  absl::MutexLock l(&mu_);
  if (request.template_name.empty()) {
    if (std::optional<std::string> why = policy::JailNameProblem(request.spec.name)) {
      return absl::InvalidArgumentError(
          ToAbsl(StrCat("jail name '", request.spec.name, "': ", *why)));
    }
  }
  platform::JailSpec spec;
  JW_ASSIGN_OR_RETURN(std::vector<rctl::Rule> limits,
                      LimitsFor(request.spec, request.template_name, request.limits, &spec));
  JW_RETURN_IF_ERROR(manager_.Create(spec));
  LogInfo("jail defined", {{"jail", spec.name}, {"by", "api"}});
  absl::Status s = AddAll(rules_, limits);
  if (s.ok() && request.start) {
    s = manager_.Start(spec.name);
    if (s.ok()) LogInfo("jail started", {{"jail", spec.name}});
  }
  if (!s.ok() && policy_.FindJail(spec.name) == nullptr) {
    // Nothing half-done: a jail that cannot start with its limits is not
    // left defined.
    (void)manager_.Destroy(spec.name);
    (void)rules_.ForgetRuntimeRules(spec.name);
    LogWarning("jail creation rolled back",
               {{"jail", spec.name}, {"error", std::string(s.message())}});
  }
  SyncLocked();
  return s;
}

absl::Status Lifecycle::DestroyJail(std::string_view name) {
  absl::MutexLock l(&mu_);
  JW_RETURN_IF_ERROR(manager_.Destroy(name));
  LogInfo("jail destroyed", {{"jail", std::string(name)}});
  SyncLocked();
  // Its runtime rules go with it (the policy's rules for it stay).
  if (absl::Status s = rules_.ForgetRuntimeRules(std::string(name)); !s.ok()) {
    LogWarning("runtime rules of a destroyed jail kept",
               {{"jail", std::string(name)}, {"error", std::string(s.message())}});
  }
  return absl::OkStatus();
}

absl::Status Lifecycle::StartJail(std::string_view name) {
  absl::MutexLock l(&mu_);
  absl::Status s = manager_.Start(name);
  if (s.ok()) LogInfo("jail started", {{"jail", std::string(name)}});
  SyncLocked();
  return s;
}

absl::Status Lifecycle::StopJail(std::string_view name) {
  absl::MutexLock l(&mu_);
  absl::Status s = manager_.Stop(name);
  if (s.ok()) LogInfo("jail stopped", {{"jail", std::string(name)}});
  SyncLocked();
  return s;
}

absl::Status Lifecycle::RestartJail(std::string_view name) {
  absl::MutexLock l(&mu_);
  absl::Status s = manager_.Restart(name);
  if (s.ok()) LogInfo("jail restarted", {{"jail", std::string(name)}});
  SyncLocked();
  return s;
}

absl::Status Lifecycle::CheckRun(const api::RunRequest& run) {
  absl::MutexLock l(&mu_);
  platform::JailSpec named = run.spec;
  if (named.name.empty()) named.name = "run-check";
  if (run.template_name.empty()) {
    if (std::optional<std::string> why = policy::JailNameProblem(named.name)) {
      return absl::InvalidArgumentError(ToAbsl(StrCat("jail name '", named.name, "': ", *why)));
    }
  }
  platform::JailSpec spec;
  return LimitsFor(named, run.template_name, run.limits, &spec).status();
}

absl::StatusOr<platform::ExecResult> Lifecycle::Run(const api::RunRequest& run,
                                                    const platform::ExecRequest& request) {
  platform::JailSpec spec;
  std::vector<rctl::Rule> limits;
  {
    absl::MutexLock l(&mu_);
    platform::JailSpec named = run.spec;
    if (named.name.empty()) named.name = StrCat("run-", getpid(), "-", ++run_counter_);
    JW_ASSIGN_OR_RETURN(limits, LimitsFor(named, run.template_name, run.limits, &spec));
    // Not recorded: a one-shot jail does not outlive the daemon.
    if (!limits.empty()) JW_RETURN_IF_ERROR(AddAll(rules_, limits, Durability::kTransient));
  }
  LogInfo("one-shot jail", {{"jail", spec.name}});
  // The registry applies the one-shot jail's limits as soon as its kernel
  // jail exists, before the command runs.
  absl::StatusOr<platform::ExecResult> result = manager_.Run(spec, request);
  if (!limits.empty()) {
    absl::MutexLock l(&mu_);
    (void)DropTransientJailRules(spec.name);
    SyncLocked();
  }
  return result;
}

void Lifecycle::Maintain() {
  if (absl::Status s = manager_.Reconcile(); !s.ok()) {
    LogWarning("reconcile failed", {{"error", std::string(s.message())}});
  }
  absl::MutexLock l(&mu_);
  SyncLocked();
  registry_.ReconcileLimits();
}

absl::Status Lifecycle::StopAll() {
  absl::MutexLock l(&mu_);
  absl::Status s = manager_.StopAll();
  SyncLocked();
  return s;
}

}  // namespace jailwarden::service
