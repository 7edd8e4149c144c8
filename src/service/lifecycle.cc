#include "jailwarden/service/lifecycle.h"

#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cerrno>
#include <set>
#include <span>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
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

// `name`'s state in `states` by name ("" if it has none).
std::string PreviousState(const Lifecycle::JailStates& states, std::string_view name) {
  auto it = states.find(std::string(name));
  return it == states.end() ? "" : std::string(jail::JailStateName(it->second));
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

void Lifecycle::SyncLocked() {
  // The version first: a change while List() copies shows at the next pass.
  const jail::Manager::ListVersion version = manager_.Version();
  registry_.Sync(manager_.List());
  synced_ = version;
  unchanged_passes_ = 0;
}

void Lifecycle::Publish(std::string_view type, std::string_view jail,
                        std::vector<engine::EventField> details) {
  if (events_ != nullptr) events_->Publish(type, jail, std::move(details));
}

Lifecycle::JailStates Lifecycle::JailStatesLocked() {
  // A jail that ended by itself is noticed now, not in the middle of the
  // change: its "stopped" comes first and the change's answer is true.
  if (absl::Status s = manager_.Reconcile(); !s.ok()) {
    LogWarning("reconcile failed", {{"error", std::string(s.message())}});
  }
  JailStates out;
  for (const jail::JailRecord& rec : manager_.List()) {
    if (!rec.ephemeral) out[rec.spec.name] = rec.state;
  }
  return out;
}

void Lifecycle::PublishChangesLocked(const JailStates& before,
                                     const std::set<std::string>& restarted,
                                     std::string_view by) {
  if (events_ == nullptr) return;
  const JailStates after = JailStatesLocked();
  auto details = [&] { return std::vector<engine::EventField>{{"by", std::string(by)}}; };
  std::set<std::string> names;
  for (const auto& [name, state] : before) names.insert(name);
  for (const auto& [name, state] : after) names.insert(name);
  for (const std::string& name : names) {
    const auto b = before.find(name);
    const auto a = after.find(name);
    const bool ran = b != before.end() && b->second == jail::JailState::kRunning;
    const bool runs = a != after.end() && a->second == jail::JailState::kRunning;
    if (a == after.end()) {
      if (ran) Publish(engine::kEventStopped, name, details());
      Publish(engine::kEventDestroyed, name, details());
      continue;
    }
    if (b == before.end()) Publish(engine::kEventCreated, name, details());
    if (runs && ran && restarted.count(name) != 0) {
      Publish(engine::kEventRestarted, name, details());
    } else if (runs && !ran) {
      Publish(engine::kEventStarted, name, details());
    } else if (!runs && ran) {
      Publish(engine::kEventStopped, name, details());
    }
  }
}

absl::StatusOr<std::vector<std::string>> Lifecycle::ApplyInitialPolicy() {
  absl::MutexLock l(&mu_);
  // The rules in force before the restart: the policy's, minus the runtime
  // removals, plus the runtime additions (RuleDatabase::OpenRecord).
  JW_RETURN_IF_ERROR(rules_.ApplyPolicy(policy_.AllRules().rules(), PolicyMode::kStartUp));
  // What a killed daemon left half-done, before anything else changes.
  JW_ASSIGN_OR_RETURN(journal_,
                      jail::Journal::Open(StrCat(policy_.server.state_dir, "/journal")));
  for (const std::string& path : journal_->stale_removed()) {
    LogInfo("removed what an interrupted write left", {{"path", path}});
  }
  const JailStates before = JailStatesLocked();
  JW_RETURN_IF_ERROR(ReplayJournalLocked());
  JW_RETURN_IF_ERROR(StopRemovedJailsLocked());
  std::vector<std::string> failures = EnsurePolicyJailsLocked();
  PublishChangesLocked(before, {}, "startup");
  JW_RETURN_IF_ERROR(RecordPolicyJailsLocked());
  return failures;
}

absl::StatusOr<uint64_t> Lifecycle::BeginOpLocked(
    std::string kind, std::map<std::string, std::vector<std::string>> args) {
  if (journal_ == nullptr) return uint64_t{0};
  return journal_->Begin(std::move(kind), std::move(args));
}

void Lifecycle::StepOpLocked(uint64_t id, std::string step) {
  if (journal_ == nullptr || id == 0) return;
  if (absl::Status s = journal_->Step(id, step); !s.ok()) {
    LogWarning("journal step not recorded", {{"step", step}, {"error", std::string(s.message())}});
  }
}

void Lifecycle::EndOpLocked(uint64_t id) {
  if (journal_ == nullptr || id == 0) return;
  if (absl::Status s = journal_->End(id); !s.ok()) {
    LogWarning("journal record not removed", {{"error", std::string(s.message())}});
  }
}

absl::Status Lifecycle::RecordPolicyJailsLocked() {
  std::string text;
  for (const policy::JailPolicy& jp : policy_.jails) StrAppend(&text, jp.spec.name, "\n");
  return WriteFileAtomically(StrCat(policy_.server.state_dir, "/", kPolicyJailsFile), text);
}

absl::Status Lifecycle::RemoveJailLocked(const std::string& name) {
  absl::Status s = manager_.Destroy(name);
  if (!s.ok() && s.code() != absl::StatusCode::kNotFound) return s;
  return rules_.ForgetRuntimeRules(name);
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
  // Set here only: a client's spec cannot name a template it did not use.
  out->template_name = std::string(template_name);
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
  // Checked before the intent is recorded: a replayed create may destroy
  // the jail it names only because this create made it.
  if (manager_.Get(spec.name).ok()) {
    return absl::AlreadyExistsError(ToAbsl(StrCat("jail ", spec.name, " is already defined")));
  }
  const JailStates before = JailStatesLocked();
  JW_ASSIGN_OR_RETURN(const uint64_t op,
                      BeginOpLocked("create", {{"jail", {spec.name}},
                                               {"start", {request.start ? "1" : "0"}}}));
  if (absl::Status d = manager_.Create(spec); !d.ok()) {
    EndOpLocked(op);
    return d;
  }
  StepOpLocked(op, "defined");
  LogInfo("jail defined", {{"jail", spec.name}, {"by", "api"}});
  absl::Status s = AddAll(rules_, limits);
  if (s.ok()) StepOpLocked(op, "limits");
  if (s.ok() && request.start) {
    s = manager_.Start(spec.name);
    if (s.ok()) {
      StepOpLocked(op, "started");
      LogInfo("jail started", {{"jail", spec.name}});
    }
  }
  if (!s.ok() && policy_.FindJail(spec.name) == nullptr) {
    // Nothing half-done: a jail that cannot start with its limits is not
    // left defined.
    (void)manager_.Destroy(spec.name);
    (void)rules_.ForgetRuntimeRules(spec.name);
    LogWarning("jail creation rolled back",
               {{"jail", spec.name}, {"error", std::string(s.message())}});
  }
  EndOpLocked(op);
  SyncLocked();
  PublishChangesLocked(before, {}, "api");
  return s;
}

absl::StatusOr<api::JailChange> Lifecycle::DestroyJail(std::string_view name,
                                                       std::string_view by) {
  absl::MutexLock l(&mu_);
  JW_RETURN_IF_ERROR(manager_.Get(name).status());
  const JailStates before = JailStatesLocked();
  const std::string previous = PreviousState(before, name);
  JW_ASSIGN_OR_RETURN(const uint64_t op, BeginOpLocked("destroy", {{"jail", {std::string(name)}}}));
  if (absl::Status d = manager_.Destroy(name); !d.ok()) {
    EndOpLocked(op);
    SyncLocked();
    PublishChangesLocked(before, {}, by);
    return d;
  }
  StepOpLocked(op, "destroyed");
  LogInfo("jail destroyed", {{"jail", std::string(name)}});
  SyncLocked();
  // Its runtime rules go with it (the policy's rules for it stay).
  if (absl::Status s = rules_.ForgetRuntimeRules(std::string(name)); !s.ok()) {
    LogWarning("runtime rules of a destroyed jail kept",
               {{"jail", std::string(name)}, {"error", std::string(s.message())}});
  }
  EndOpLocked(op);
  PublishChangesLocked(before, {}, by);
  return api::JailChange{true, "destroyed", previous};
}

absl::StatusOr<api::JailChange> Lifecycle::StartJail(std::string_view name,
                                                     std::string_view by) {
  absl::MutexLock l(&mu_);
  JW_RETURN_IF_ERROR(manager_.Get(name).status());
  const JailStates before = JailStatesLocked();
  const std::string previous = PreviousState(before, name);
  if (previous == jail::JailStateName(jail::JailState::kRunning)) {
    return api::JailChange{false, previous, previous};
  }
  JW_ASSIGN_OR_RETURN(const uint64_t op, BeginOpLocked("start", {{"jail", {std::string(name)}}}));
  absl::Status s = manager_.Start(name);
  if (s.ok()) LogInfo("jail started", {{"jail", std::string(name)}});
  EndOpLocked(op);
  SyncLocked();
  PublishChangesLocked(before, {}, by);
  JW_RETURN_IF_ERROR(s);
  return api::JailChange{true, std::string(jail::JailStateName(jail::JailState::kRunning)),
                         previous};
}

absl::StatusOr<api::JailChange> Lifecycle::StopJail(std::string_view name, std::string_view by) {
  absl::MutexLock l(&mu_);
  JW_RETURN_IF_ERROR(manager_.Get(name).status());
  const JailStates before = JailStatesLocked();
  const std::string previous = PreviousState(before, name);
  if (previous == jail::JailStateName(jail::JailState::kStopped)) {
    return api::JailChange{false, previous, previous};
  }
  JW_ASSIGN_OR_RETURN(const uint64_t op, BeginOpLocked("stop", {{"jail", {std::string(name)}}}));
  absl::Status s = manager_.Stop(name);
  if (s.ok()) LogInfo("jail stopped", {{"jail", std::string(name)}});
  EndOpLocked(op);
  SyncLocked();
  PublishChangesLocked(before, {}, by);
  JW_RETURN_IF_ERROR(s);
  return api::JailChange{true, std::string(jail::JailStateName(jail::JailState::kStopped)),
                         previous};
}

absl::StatusOr<api::JailChange> Lifecycle::RestartJail(std::string_view name,
                                                       std::string_view by) {
  absl::MutexLock l(&mu_);
  JW_RETURN_IF_ERROR(manager_.Get(name).status());
  const JailStates before = JailStatesLocked();
  const std::string previous = PreviousState(before, name);
  JW_ASSIGN_OR_RETURN(const uint64_t op, BeginOpLocked("restart", {{"jail", {std::string(name)}}}));
  // Stop, then start, as Manager::Restart does, with the boundary recorded:
  // a replay after it only has to start the jail.
  absl::Status s = manager_.Stop(name);
  if (s.ok()) {
    StepOpLocked(op, "stopped");
    s = manager_.Start(name);
  }
  if (s.ok()) LogInfo("jail restarted", {{"jail", std::string(name)}});
  EndOpLocked(op);
  SyncLocked();
  // A restart of a stopped jail is a start (changed, "started").
  PublishChangesLocked(before, {std::string(name)}, by);
  JW_RETURN_IF_ERROR(s);
  return api::JailChange{true, std::string(jail::JailStateName(jail::JailState::kRunning)),
                         previous};
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
  // Every second: the records are copied and published again only when the
  // manager's version moved (a jail started, stopped, ended by itself, was
  // defined or removed). Every kMaxUnchangedPasses-th pass syncs anyway,
  // so a registration the registry failed (logged) is still retried.
  constexpr int kMaxUnchangedPasses = 10;
  if (!synced_.has_value() || !(manager_.Version() == *synced_) ||
      ++unchanged_passes_ >= kMaxUnchangedPasses) {
    SyncLocked();
  }
  registry_.ReconcileLimits();
#if defined(__GLIBC__)
  // glibc keeps freed memory inside its arenas (one per thread that ever
  // allocated, up to 8 per CPU; the API serves each request on a thread of
  // its own): pages freed by a scrape, a start or a burst of API calls stay
  // resident and the daemon's RSS creeps after warm-up. Every 10 s, hand
  // the whole free pages back to the kernel (MADV_DONTNEED inside the
  // arenas; on the maintenance thread, off the sampling thread).
  // bench/README.md (issue 16, fourth pass) has the measurement.
  constexpr int kTrimEveryPasses = 10;
  if (++passes_since_trim_ >= kTrimEveryPasses) {
    passes_since_trim_ = 0;
    malloc_trim(0);
  }
#endif
}

absl::Status Lifecycle::StopAll() {
  absl::MutexLock l(&mu_);
  const JailStates before = JailStatesLocked();
  absl::Status s = manager_.StopAll();
  SyncLocked();
  PublishChangesLocked(before, {}, "shutdown");
  return s;
}

}  // namespace jailwarden::service
