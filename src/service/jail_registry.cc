#include "jailwarden/service/jail_registry.h"

#include <set>

#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::service {

std::string DriftEventLine(std::string_view jail, const platform::LimitDrift& drift) {
  auto value = [](std::string_view v) {
    std::string out(v);
    for (char& c : out) {
      if (c == ' ' || c == '\t' || c == '\n') c = ',';
    }
    return out;
  };
  return StrCat("!system=jailwarden subsystem=limit type=drift jail=", value(jail),
                " resource=", value(drift.resource), " mechanism=", value(drift.mechanism),
                " found=", value(drift.found), " want=", value(drift.want),
                " repaired=", drift.repaired ? "yes" : "no");
}

JailRegistry::JailRegistry(HostBackend& backend, RuleDatabase& rules)
    : backend_(backend), rules_(rules) {
  records_.Store(std::make_shared<const std::vector<jail::JailRecord>>());
  rules_.SetApplier(this);
}

void JailRegistry::ForgetLocked(
    std::map<std::string, Registered, std::less<>>::iterator it) {
  backend_.RemoveJail(it->first);
  registered_.erase(it);
}

absl::Status JailRegistry::Register(const platform::JailInstance& instance) {
  const std::string& name = instance.ref.name;
  {
    absl::MutexLock l(&mu_);
    auto it = registered_.find(name);
    if (it != registered_.end() && it->second.init_pid == instance.init_pid) {
      return absl::OkStatus();
    }
  }
  absl::Status s = rules_.AttachJail(
      name, [&](const std::vector<rctl::Rule>& rules)
                -> absl::StatusOr<std::vector<platform::Enforcement>> {
        absl::MutexLock l(&mu_);
        if (auto it = registered_.find(name); it != registered_.end()) ForgetLocked(it);
        // A jailwarden jail takes its name over from an observed container
        // (AddJail replaces the reader's registration).
        observed_.erase(name);
        JW_ASSIGN_OR_RETURN(platform::JailRef ref, backend_.AddJail(instance));
        absl::StatusOr<std::vector<platform::Enforcement>> applied =
            backend_.enforcer().Apply(ref, rules);
        if (!applied.ok()) {
          backend_.RemoveJail(name);
          return applied.status();
        }
        registered_[name] = Registered{ref, instance.init_pid};
        for (const platform::Enforcement& e : *applied) {
          LogDebug("limit applied",
                   {{"jail", name},
                    {"rule", rctl::FormatRule(e.rule)},
                    {"fidelity", std::string(platform::FidelityName(e.fidelity))},
                    {"mechanism", e.mechanism}});
        }
        return applied;
      });
  if (!s.ok()) {
    LogWarning("cannot apply limits", {{"jail", name}, {"error", std::string(s.message())}});
    return absl::Status(s.code(), ToAbsl(StrCat("limits of jail '", name,
                                                "' could not be applied: ",
                                                ToStd(s.message()))));
  }
  return absl::OkStatus();
}

absl::Status JailRegistry::OnKernelJailCreated(const platform::JailInstance& instance) {
  return Register(instance);
}

void JailRegistry::OnKernelJailRemoved(const std::string& name) {
  bool was = false;
  {
    absl::MutexLock l(&mu_);
    if (auto it = registered_.find(name); it != registered_.end()) {
      ForgetLocked(it);
      was = true;
    }
  }
  if (was) rules_.DetachJail(name);
}

absl::Status JailRegistry::ObserveReadOnly(const platform::JailInstance& instance) {
  const std::string& name = instance.ref.name;
  absl::MutexLock l(&mu_);
  if (registered_.count(name) != 0) {
    return absl::AlreadyExistsError(
        ToAbsl(StrCat("a jailwarden jail named '", name, "' is running")));
  }
  auto it = observed_.find(name);
  if (it != observed_.end() && it->second == instance.init_pid) {
    return absl::OkStatus();
  }
  absl::StatusOr<platform::JailRef> ref = backend_.ObserveJail(instance);
  if (!ref.ok()) {
    if (it != observed_.end()) {
      observed_.erase(it);
      backend_.RemoveJail(name);  // the reading of its earlier process
    }
    return ref.status();
  }
  observed_[name] = instance.init_pid;
  return absl::OkStatus();
}

void JailRegistry::ForgetReadOnly(const std::string& name) {
  absl::MutexLock l(&mu_);
  if (auto it = observed_.find(name); it != observed_.end()) {
    observed_.erase(it);
    if (registered_.count(name) == 0) backend_.RemoveJail(name);
  }
}

void JailRegistry::Sync(std::vector<jail::JailRecord> records) {
  std::set<std::string, std::less<>> running;
  for (const jail::JailRecord& rec : records) {
    if (rec.state != jail::JailState::kRunning) continue;
    running.insert(rec.spec.name);
    platform::JailInstance instance = rec.instance;
    instance.ref.name = rec.spec.name;
    instance.ref.jid = rec.jid;
    (void)Register(instance);  // logged; retried at the next Sync
  }
  std::vector<std::string> gone;
  {
    absl::MutexLock l(&mu_);
    for (auto it = registered_.begin(); it != registered_.end();) {
      auto next = std::next(it);
      if (running.count(it->first) == 0) {
        gone.push_back(it->first);
        ForgetLocked(it);
      }
      it = next;
    }
  }
  for (const std::string& name : gone) rules_.DetachJail(name);
  records_.Store(std::make_shared<const std::vector<jail::JailRecord>>(std::move(records)));
}

void JailRegistry::ReconcileLimits() {
  std::vector<std::pair<std::string, platform::LimitDrift>> found;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [name, reg] : registered_) {
      if (absl::Status s = backend_.Reconcile(name); !s.ok()) {
        LogDebug("limit reconcile failed", {{"jail", name}, {"error", std::string(s.message())}});
      }
    }
    // The slice: the next jails after the cursor, wrapping round.
    const std::size_t n = DriftChecksPerPass(registered_.size());
    auto it = registered_.upper_bound(drift_cursor_);
    for (std::size_t i = 0; i < n; ++i, ++it) {
      if (it == registered_.end()) it = registered_.begin();
      const auto& [name, reg] = *it;
      drift_cursor_ = name;
      absl::StatusOr<std::vector<platform::LimitDrift>> drifted =
          backend_.enforcer().CheckAndRepair(reg.ref);
      if (!drifted.ok()) {
        LogWarning("limit drift check failed",
                   {{"jail", name}, {"error", std::string(drifted.status().message())}});
        continue;
      }
      for (platform::LimitDrift& d : *drifted) {
        found.emplace_back(name, std::move(d));
      }
    }
  }
  for (const auto& [name, d] : found) {
    LogWarning("limit drifted and was repaired",
               {{"jail", name}, {"resource", d.resource}, {"mechanism", d.mechanism},
                {"found", d.found}, {"want", d.want},
                {"repaired", d.repaired ? "yes" : "no"}});
    {
      absl::MutexLock l(&drift_mu_);
      ++drift_counts_[{name, d.resource}];
    }
    if (drift_listener_) drift_listener_(name, d);
  }
}

std::vector<metrics::LimitDriftCount> JailRegistry::DriftCounts() const {
  absl::MutexLock l(&drift_mu_);
  std::vector<metrics::LimitDriftCount> out;
  out.reserve(drift_counts_.size());
  for (const auto& [key, count] : drift_counts_) {
    out.push_back({key.first, key.second, count});
  }
  return out;
}

absl::StatusOr<AppliedEnforcements> JailRegistry::ApplyChanges(
    const std::vector<JailRulesChange>& changes) {
  absl::MutexLock l(&mu_);
  AppliedEnforcements applied;
  std::vector<const JailRulesChange*> done;
  for (const JailRulesChange& c : changes) {
    auto it = registered_.find(c.jail);
    if (it == registered_.end()) continue;
    absl::StatusOr<std::vector<platform::Enforcement>> r =
        backend_.enforcer().Apply(it->second.ref, c.after);
    if (!r.ok()) {
      LogWarning("cannot apply limits",
                 {{"jail", c.jail}, {"error", std::string(r.status().message())}});
      // Put back what this change already altered, newest first.
      for (auto d = done.rbegin(); d != done.rend(); ++d) {
        absl::StatusOr<std::vector<platform::Enforcement>> back =
            backend_.enforcer().Apply(registered_.find((*d)->jail)->second.ref, (*d)->before);
        if (!back.ok()) {
          LogError("cannot restore limits after a failed change",
                   {{"jail", (*d)->jail}, {"error", std::string(back.status().message())}});
        }
      }
      return r.status();
    }
    applied[c.jail] = *std::move(r);
    done.push_back(&c);
  }
  return applied;
}

}  // namespace jailwarden::service
