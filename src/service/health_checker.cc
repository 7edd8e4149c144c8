#include "jailwarden/service/health_checker.h"

#include <algorithm>
#include <set>

#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::service {
namespace {

constexpr char kStarting[] = "starting";
constexpr char kHealthy[] = "healthy";
constexpr char kUnhealthy[] = "unhealthy";

bool SameRun(const HealthTarget& a, const HealthTarget& b) {
  return a.init_pid == b.init_pid && a.started == b.started;
}

// What a check's outcome was, for the event's details.
void AddOutcome(const absl::StatusOr<platform::ExecResult>& r,
                std::vector<engine::EventField>* out) {
  if (!r.ok()) {
    out->push_back({"error", std::string(r.status().message())});
  } else if (r->timed_out) {
    out->push_back({"timed_out", int64_t{1}});
  } else if (r->term_signal != 0) {
    out->push_back({"signal", int64_t{r->term_signal}});
  } else {
    out->push_back({"exit_code", int64_t{r->exit_code}});
  }
}

}  // namespace

const policy::HealthCheckPolicy* HealthCheckFor(const policy::Policy& policy,
                                                const jail::JailRecord& rec) {
  if (const policy::JailPolicy* jp = policy.FindJail(rec.spec.name); jp != nullptr) {
    return jp->healthcheck.has_value() ? &*jp->healthcheck : nullptr;
  }
  if (rec.spec.template_name.empty()) return nullptr;
  const policy::TemplatePolicy* t = policy.FindTemplate(rec.spec.template_name);
  if (t == nullptr || !t->resolved.healthcheck.has_value()) return nullptr;
  return &*t->resolved.healthcheck;
}

std::vector<HealthTarget> HealthTargets(const policy::Policy& policy,
                                        const std::vector<jail::JailRecord>& records) {
  std::vector<HealthTarget> out;
  for (const jail::JailRecord& rec : records) {
    if (rec.ephemeral || rec.state != jail::JailState::kRunning) continue;
    const policy::HealthCheckPolicy* check = HealthCheckFor(policy, rec);
    if (check == nullptr) continue;
    out.push_back(HealthTarget{rec.spec.name, rec.instance.init_pid, rec.instance.started, *check});
  }
  return out;
}

HealthChecker::HealthChecker(HealthCheckerOptions options, TargetsFn targets, RunFn run,
                             ActFn act, engine::EventStream* events)
    : options_(options),
      targets_(std::move(targets)),
      run_(std::move(run)),
      act_(std::move(act)),
      events_(events) {}

HealthChecker::~HealthChecker() { Stop(); }

void HealthChecker::Start() {
  if (started_) return;
  started_ = true;
  threads_.emplace_back([this] { SchedulerLoop(); });
  for (int i = 0; i < std::max(1, options_.max_concurrent); ++i) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
}

void HealthChecker::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void HealthChecker::ScheduleOnce(absl::Time now) {
  const std::vector<HealthTarget> targets = targets_();
  struct Change {
    std::string jail, from;
  };
  std::vector<Change> restarted_runs;
  {
    absl::MutexLock l(&mu_);
    std::set<std::string> live;
    for (const HealthTarget& t : targets) {
      live.insert(t.name);
      auto [it, fresh] = entries_.try_emplace(t.name);
      Entry& e = it->second;
      if (fresh || e.gone || !SameRun(e.target, t)) {
        // A new run of the jail: its health starts over (counters kept).
        if (!fresh && !e.gone && e.health.state != kStarting) {
          restarted_runs.push_back({t.name, e.health.state});
        }
        e.health.state = kStarting;
        e.health.failures = 0;
        e.run_started = t.started == absl::InfinitePast() ? now : std::min(t.started, now);
        e.next_due = now + t.check.interval;
        e.gone = false;
      }
      e.target = t;  // the policy's current check
      if (!e.in_flight && now >= e.next_due) {
        e.in_flight = true;
        queue_.push_back(t.name);
      }
    }
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (live.count(it->first) != 0) {
        ++it;
      } else if (it->second.in_flight) {
        it->second.gone = true;  // erased when its check returns
        ++it;
      } else {
        it = entries_.erase(it);
      }
    }
  }
  for (const Change& c : restarted_runs) {
    if (events_ != nullptr) {
      events_->Publish(engine::kEventHealthChanged, c.jail,
                       {{"from", c.from}, {"to", std::string(kStarting)}});
    }
  }
}

void HealthChecker::SchedulerLoop() {
  absl::MutexLock l(&mu_);
  while (!stopping_) {
    mu_.Unlock();
    ScheduleOnce(absl::Now());
    mu_.Lock();
    const auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stop), options_.poll);
  }
}

void HealthChecker::WorkerLoop() {
  while (true) {
    std::string name;
    {
      absl::MutexLock l(&mu_);
      const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !queue_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      name = std::move(queue_.front());
      queue_.pop_front();
    }
    RunOne(name);
  }
}

void HealthChecker::RunOne(const std::string& name) {
  HealthTarget target;
  {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return;
    if (it->second.gone) {
      entries_.erase(it);
      return;
    }
    target = it->second.target;
  }
  platform::ExecRequest request;
  request.argv = target.check.argv;
  request.timeout = target.check.timeout;
  const absl::StatusOr<platform::ExecResult> result = run_(name, request);
  const bool passed = result.ok() && result->ok();
  const absl::Time now = absl::Now();
  std::string from, to;
  int64_t failures = 0;
  bool act = false;
  {
    absl::MutexLock l(&mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return;
    Entry& e = it->second;
    e.in_flight = false;
    if (e.gone) {
      entries_.erase(it);
      return;
    }
    // The jail restarted while the check ran: the result is of a run
    // that is over.
    if (!SameRun(e.target, target)) return;
    ++e.health.checks;
    e.health.last_check = now;
    e.next_due = now + e.target.check.interval;
    from = e.health.state;
    if (passed) {
      e.health.failures = 0;
      e.health.state = kHealthy;
    } else if (e.health.state == kStarting && now < e.run_started + target.check.start_period) {
      // Inside the start period: a failure does not count.
    } else {
      ++e.health.failures;
      if (e.health.failures >= target.check.retries && e.health.state != kUnhealthy) {
        e.health.state = kUnhealthy;
        act = target.check.on_failure != policy::HealthAction::kNone;
        if (act) ++e.health.actions;
      }
    }
    to = e.health.state;
    failures = e.health.failures;
  }
  if (from != to && events_ != nullptr) {
    std::vector<engine::EventField> details = {
        {"from", from}, {"to", to}, {"failures", failures}};
    AddOutcome(result, &details);
    events_->Publish(engine::kEventHealthChanged, name, std::move(details));
  }
  if (from != to) {
    LogInfo("jail health changed", {{"jail", name}, {"from", from}, {"to", to}});
  }
  if (act) {
    const std::string_view action = policy::HealthActionName(target.check.on_failure);
    LogWarning("jail unhealthy; acting", {{"jail", name}, {"action", std::string(action)}});
    if (absl::Status s = act_(name, target.check.on_failure); !s.ok()) {
      LogError("health check action failed", {{"jail", name},
                                              {"action", std::string(action)},
                                              {"error", std::string(s.message())}});
    }
  }
}

std::map<std::string, JailHealth> HealthChecker::States() const {
  absl::MutexLock l(&mu_);
  std::map<std::string, JailHealth> out;
  for (const auto& [name, e] : entries_) {
    if (!e.gone) out[name] = e.health;
  }
  return out;
}

}  // namespace jailwarden::service
