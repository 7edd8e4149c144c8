#include "jailwarden/service/tick_router.h"

#include <signal.h>

#include <cerrno>

#include "jailwarden/base/log.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::service {

TickRouter::TickRouter(RuleDatabase& rules, platform::LimitEnforcer& enforcer,
                       engine::EventStream& events, metrics::EngineHealthRecorder& health,
                       TickRouterOptions options)
    : rules_(rules),
      enforcer_(enforcer),
      events_(events),
      health_(health),
      options_(std::move(options)) {
  // Which denies are sampled comes with each RuleSnapshot (computed once
  // per rule when it entered the database), not from the options.
  engine::EngineOptions eo = options_.engine;
  eo.deny_is_sampled = nullptr;
  engine_ = std::make_unique<engine::Engine>(*this, eo);
}

TickRouter::~TickRouter() { Stop(); }

void TickRouter::Start() { worker_ = std::thread([this] { Worker(); }); }

void TickRouter::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopped_) return;
    stopped_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  EnforceSampledDenies({});
}

// With kernel_acts each of the four actions below was already carried out
// by the kernel (rctl(8): "log", "devctl", "throttle" and the signals are
// rctl_enforce()'s, at the charge); the engine's decision is only counted.

void TickRouter::OnLog(std::string_view line) {
  if (options_.kernel_acts) {
    left_to_kernel_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  LogWarning(line, {{"source", "rctl"}});
}

void TickRouter::OnDevctl(std::string_view line) {
  if (options_.kernel_acts) {
    left_to_kernel_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  events_.Append(line);
}

void TickRouter::OnSignal(const engine::SignalRequest& request) {
  if (options_.kernel_acts) {
    left_to_kernel_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const int sig = rctl::HostSignalNumber(request.signal);
  if (sig <= 0) return;
  // The rule's resource decides which of a jail's processes get it; the
  // request comes from Evaluate over compiled_ (this thread).
  rctl::Resource resource = rctl::Resource::kCputime;
  if (compiled_ != nullptr && request.rule < compiled_->Flat().rules.size()) {
    resource = compiled_->Flat().rules[request.rule].resource.value_or(resource);
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    signals_.push_back(
        {std::string(request.jail),
         request.target.kind == engine::TargetKind::kProcess ? request.pid : -1, sig, resource});
  }
  cv_.notify_one();
}

void TickRouter::OnThrottle(const engine::ThrottleRequest& request) {
  if (options_.kernel_acts) {
    left_to_kernel_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Jail-wide pcpu and I/O limits are cgroup knobs installed per rule; the
  // engine's per-tick throttle sleeps (rules with a process subject or per
  // process/user) have no mechanism here. They are counted, and their
  // Enforcement detail says they are not throttled (docs/linux-resources.md).
  (void)request;
  throttles_ignored_.fetch_add(1, std::memory_order_relaxed);
}

void TickRouter::OnTick(const std::shared_ptr<const racct::Snapshot>& snap) {
  std::shared_ptr<const RuleSnapshot> current = rules_.Current();
  bool recompiled = false;
  if (current != compiled_) {
    const FlatRules& flat = current->Flat();
    absl::Status s = engine_->Compile(std::span<const rctl::Rule>(flat.rules),
                                      std::span<const uint8_t>(flat.sampled),
                                      snap->tick->jails);
    if (!s.ok()) {
      LogError("engine compile failed", {{"error", std::string(s.message())}});
    } else {
      health_.RecordCompile(engine_->compile_info());
    }
    if (options_.rules_compiled) options_.rules_compiled(flat);
    compiled_ = std::move(current);
    recompiled = true;
  }
  const absl::Time t0 = absl::Now();
  const engine::EvaluationResult& result = engine_->Evaluate(*snap);
  health_.Record(absl::Now() - t0, result);
  // The kernel denies every charge over a deny rule itself: nothing is
  // enforced by sampling, whatever a rule's `sampled` bit says.
  if (!options_.kernel_acts) RouteSampledDenies(*snap, result, recompiled);
}

// Hands the sampled denies at or over to the worker, which has the enforcer
// act on them (on Linux, soft rlimits clamped to current use). Queued when
// the set changes, and at every new slow-tier pass while one is active (so
// processes that appeared meanwhile are reached and the clamps follow the
// usage). No allocation while nothing is at or over.
void TickRouter::RouteSampledDenies(const racct::Snapshot& snap,
                                    const engine::EvaluationResult& result,
                                    bool recompiled) {
  const FlatRules& flat = compiled_->Flat();
  denies_now_.clear();
  for (const engine::Decision& d : result.decisions) {
    if (d.kind != engine::DecisionKind::kDenyAtOrOver || d.rule >= flat.sampled.size() ||
        flat.sampled[d.rule] == 0) {
      continue;
    }
    if (d.target.kind == engine::TargetKind::kJail) {
      denies_now_.push_back({d.rule, d.target.jail_slot, -1});
    } else {
      denies_now_.push_back({d.rule, -1, d.target.pid});
    }
  }
  const bool new_slow = snap.slow != denies_slow_;
  const bool changed = recompiled || denies_now_ != denies_sent_ ||
                       (!denies_now_.empty() && snap.tick->jails != denies_jails_);
  denies_slow_ = snap.slow;
  if (!changed && !(new_slow && !denies_now_.empty())) return;
  denies_sent_ = denies_now_;
  denies_jails_ = snap.tick->jails;
  std::vector<platform::SampledDeny> list;
  list.reserve(denies_now_.size());
  for (const DenyKey& k : denies_now_) {
    platform::SampledDeny d;
    d.rule = flat.rules[k.rule];
    if (k.pid < 0) {
      const racct::JailTable& table = *snap.tick->jails;
      if (k.jail_slot < 0 || static_cast<std::size_t>(k.jail_slot) >= table.size()) continue;
      d.jail = table.jails[static_cast<std::size_t>(k.jail_slot)].name;
    } else {
      // A process target reaches the process only inside its jail.
      if (snap.slow == nullptr) continue;
      std::optional<uint32_t> i = snap.slow->FindProcess(k.pid);
      if (!i.has_value()) continue;
      const racct::ProcessInfo& p = snap.slow->processes[*i];
      if (p.jail.empty() || p.jail == "0") continue;
      d.jail = p.jail;
      d.pid = k.pid;
    }
    list.push_back(std::move(d));
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    pending_denies_ = std::move(list);
  }
  cv_.notify_one();
}

void TickRouter::Worker() {
  std::unique_lock<std::mutex> l(mu_);
  absl::Time next_maintenance = absl::Now() + options_.maintenance_interval;
  while (!stop_) {
    const absl::Duration wait =
        std::max(absl::ZeroDuration(), next_maintenance - absl::Now());
    cv_.wait_for(l, absl::ToChronoNanoseconds(wait), [this] {
      return stop_ || !signals_.empty() || pending_denies_.has_value();
    });
    while (!signals_.empty()) {
      QueuedSignal q = std::move(signals_.front());
      signals_.pop_front();
      l.unlock();
      DeliverSignal(q);
      l.lock();
    }
    if (pending_denies_.has_value()) {
      std::vector<platform::SampledDeny> denies = std::move(*pending_denies_);
      pending_denies_.reset();
      l.unlock();
      EnforceSampledDenies(denies);
      l.lock();
    }
    if (stop_) break;
    if (absl::Now() >= next_maintenance) {
      l.unlock();
      if (options_.maintain) options_.maintain();
      l.lock();
      next_maintenance = absl::Now() + options_.maintenance_interval;
    }
  }
}

void TickRouter::DeliverSignal(const QueuedSignal& q) {
  if (q.pid > 0) {
    if (kill(static_cast<pid_t>(q.pid), q.host_signal) != 0) {
      LogDebug("signal not delivered", {{"pid", StrCat(q.pid)}, {"errno", StrCat(errno)}});
    }
    return;
  }
  if (options_.signal_jail) options_.signal_jail(q.jail, q.host_signal, q.resource);
}

void TickRouter::EnforceSampledDenies(const std::vector<platform::SampledDeny>& denies) {
  if (absl::Status s = enforcer_.SetSampledDenies(denies); !s.ok()) {
    LogDebug("sampled deny enforcement incomplete",
             {{"denies", StrCat(denies.size())}, {"error", std::string(s.message())}});
  }
}

}  // namespace jailwarden::service
