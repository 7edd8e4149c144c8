#include "jailwarden/service/daemon.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <functional>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "absl/synchronization/mutex.h"
#include "jailwarden/api/server.h"
#include "jailwarden/api/token.h"
#include "jailwarden/base/absl_compat.h"
#include "jailwarden/base/clock.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/log.h"
#include "jailwarden/base/status_macros.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/engine/engine.h"
#include "jailwarden/jail/manager.h"
#include "jailwarden/metrics/collector.h"
#include "jailwarden/metrics/http.h"
#include "jailwarden/policy/diff.h"
#include "jailwarden/racct/sampler.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/rctl/user_form.h"
#include "jailwarden/version.h"

namespace jailwarden::service {
namespace {

bool ProcessExists(int64_t pid) {
  if (pid <= 0 || pid > INT32_MAX) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// Real and effective uid of a host process from /proc/<pid>/status.
bool ProcessUids(int64_t pid, int64_t* ruid, int64_t* euid) {
  std::ifstream in(StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!StartsWith(line, "Uid:")) continue;
    const std::vector<std::string_view> f =
        SplitWhitespace(std::string_view(line).substr(4));
    if (f.size() < 2) return false;
    *ruid = ParseInt<int64_t>(f[0]).value_or(-1);
    *euid = ParseInt<int64_t>(f[1]).value_or(-1);
    return *ruid >= 0;
  }
  return false;
}

std::vector<rctl::Rule> JailRules(const rctl::RuleSet& rules,
                                  std::string_view jail) {
  std::vector<rctl::Rule> out;
  for (const rctl::Rule& r : rules.rules()) {
    if (r.subject == rctl::SubjectType::kJail && r.subject_id == jail) {
      out.push_back(r);
    }
  }
  return out;
}

// A limit as the API takes it ("memoryuse:deny=64M") turned into a kernel
// rule for jail `name`, as `rctl -a jail:NAME:...` would make it.
absl::StatusOr<rctl::Rule> LimitRule(std::string_view name,
                                     std::string_view limit) {
  const std::string text = StrCat("jail:", name, ":", limit);
  absl::StatusOr<std::string> expanded = rctl::ExpandRule(text);
  if (!expanded.ok()) {
    return ErrnoStatusWithMessage(
        EINVAL, StrCat("malformed rule '", text, "': ", ToStd(expanded.status().message())));
  }
  absl::StatusOr<rctl::Rule> rule = rctl::ParseRuleForAdd(*expanded);
  if (!rule.ok()) {
    const std::optional<int> e = StatusErrno(rule.status());
    return ErrnoStatusWithMessage(
        e.value_or(EINVAL),
        StrCat("rule '", text, "': ", e.has_value() ? FreeBsdStrerror(*e)
                                                    : ToStd(rule.status().message())));
  }
  return rule;
}

struct QueuedSignal {
  std::string jail;
  int64_t pid = -1;
  int host_signal = 0;
};

// One sampled deny at or over, as the engine reported it (tick thread).
struct DenyKey {
  uint32_t rule = 0;      // index into the compiled rules
  int32_t jail_slot = -1; // jail targets
  int64_t pid = -1;       // process targets
  friend bool operator==(const DenyKey&, const DenyKey&) = default;
};

// The backend's runtime with two hooks: right after the kernel jail exists
// (before exec.created, the network and exec.start) and right after it is
// removed. The daemon registers the jail with the reader and the enforcer
// there, so limits hold from the jail's first process on.
class HookedRuntime final : public platform::JailRuntime {
 public:
  HookedRuntime(std::unique_ptr<platform::JailRuntime> inner,
                std::function<void(const platform::JailInstance&)> created,
                std::function<void(const std::string&)> removed)
      : inner_(std::move(inner)),
        created_(std::move(created)),
        removed_(std::move(removed)) {}

  absl::Status Prepare(const platform::JailSpec& spec,
                       platform::JailInstance& instance) override {
    return inner_->Prepare(spec, instance);
  }
  absl::Status Create(const platform::JailSpec& spec,
                      platform::JailInstance& instance) override {
    JW_RETURN_IF_ERROR(inner_->Create(spec, instance));
    platform::JailInstance copy = instance;
    if (copy.ref.name.empty()) copy.ref.name = spec.name;
    created_(copy);
    return absl::OkStatus();
  }
  absl::Status AttachNetwork(const platform::JailSpec& spec,
                             platform::JailInstance& instance) override {
    return inner_->AttachNetwork(spec, instance);
  }
  absl::StatusOr<platform::ExecResult> Exec(const platform::JailInstance& instance,
                                            platform::ExecWhere where,
                                            const platform::ExecRequest& request) override {
    return inner_->Exec(instance, where, request);
  }
  absl::StatusOr<int64_t> Spawn(const platform::JailInstance& instance,
                                const platform::ExecRequest& request) override {
    return inner_->Spawn(instance, request);
  }
  absl::Status SignalAll(const platform::JailInstance& instance,
                         int host_signal) override {
    return inner_->SignalAll(instance, host_signal);
  }
  absl::StatusOr<int> CountProcesses(const platform::JailInstance& instance) override {
    return inner_->CountProcesses(instance);
  }
  absl::Status Remove(platform::JailInstance& instance) override {
    const std::string name = instance.ref.name;
    absl::Status s = inner_->Remove(instance);
    removed_(name);
    return s;
  }
  absl::Status Teardown(const platform::JailSpec& spec,
                        platform::JailInstance& instance) override {
    return inner_->Teardown(spec, instance);
  }
  absl::StatusOr<bool> Adopt(platform::JailInstance& instance) override {
    return inner_->Adopt(instance);
  }
  absl::Status ClearPersist(platform::JailInstance& instance) override {
    return inner_->ClearPersist(instance);
  }

 private:
  std::unique_ptr<platform::JailRuntime> inner_;
  std::function<void(const platform::JailInstance&)> created_;
  std::function<void(const std::string&)> removed_;
};

}  // namespace

struct Daemon::Impl final : public engine::ActionSink {
  DaemonOptions options;
  std::unique_ptr<HostBackend> backend;
  platform::JailRuntime* runtime = nullptr;  // owned by manager
  std::unique_ptr<jail::Manager> manager;
  std::string token;

  // Serializes every state change (lifecycle, rules, reload).
  absl::Mutex control_mu;
  policy::Policy policy ABSL_GUARDED_BY(control_mu);
  struct Registered {
    platform::JailRef ref;
    int64_t init_pid = -1;
    std::vector<platform::Enforcement> applied;
  };
  // Jails registered with the reader and enforcer. A leaf lock after
  // control_mu (and after the manager's lock: the runtime hook takes it).
  absl::Mutex reg_mu;
  std::map<std::string, Registered, std::less<>> registered
      ABSL_GUARDED_BY(reg_mu);
  int64_t run_counter ABSL_GUARDED_BY(control_mu) = 0;

  // The rule database. Written under control_mu AND rules_mu; read under
  // rules_mu alone.
  mutable absl::Mutex rules_mu;
  rctl::RuleSet rules ABSL_GUARDED_BY(rules_mu);

  // Published copies for readers that must not wait.
  std::atomic<std::shared_ptr<const rctl::RuleSet>> published_rules;
  std::atomic<std::shared_ptr<const policy::Policy>> published_policy;
  std::atomic<std::shared_ptr<const std::vector<jail::JailRecord>>> jail_cache;
  std::atomic<std::shared_ptr<const std::vector<platform::Enforcement>>>
      enforcements;

  absl::Mutex status_mu;
  uint64_t policy_generation ABSL_GUARDED_BY(status_mu) = 1;
  absl::Time last_reload ABSL_GUARDED_BY(status_mu) = absl::InfinitePast();
  bool last_reload_ok ABSL_GUARDED_BY(status_mu) = true;
  std::string last_reload_error ABSL_GUARDED_BY(status_mu);
  std::atomic<bool> ready{false};
  std::atomic<uint64_t> throttles_ignored{0};

  engine::EventStream events{4096};
  std::unique_ptr<racct::Sampler> sampler;
  std::unique_ptr<engine::Engine> engine;          // tick thread only
  std::shared_ptr<const rctl::RuleSet> compiled;   // tick thread only
  // Sampled-deny routing state (tick thread only): which compiled rules
  // are deny rules the backend enforces by sampling, and what was last
  // handed to the worker.
  std::vector<uint8_t> rule_sampled;
  std::vector<DenyKey> denies_now, denies_sent;
  std::shared_ptr<const racct::SlowData> denies_slow;
  std::shared_ptr<const racct::JailTable> denies_jails;
  metrics::EngineHealthRecorder engine_health;
  std::unique_ptr<metrics::MetricsCollector> collector;
  std::unique_ptr<metrics::MetricsEndpoint> metrics_endpoint;
  std::unique_ptr<api::ApiServer> api;

  std::mutex work_mu;
  std::condition_variable work_cv;
  std::deque<QueuedSignal> signal_queue;
  // The latest set of sampled denies at or over, for the worker to hand to
  // the enforcer (only the latest matters: the call is level-triggered).
  std::optional<std::vector<platform::SampledDeny>> pending_denies;
  bool stop_worker = false;
  std::thread worker;
  std::atomic<bool> shut_down{false};

  class RctlFront;
  std::unique_ptr<rctl::RctlBackend> rctl_front;

  // ---- engine::ActionSink (sampler thread; must not block) ----
  void OnLog(std::string_view line) override {
    LogWarning(line, {{"source", "rctl"}});
  }
  void OnDevctl(std::string_view line) override { events.Append(line); }
  void OnSignal(const engine::SignalRequest& request) override {
    const int sig = rctl::HostSignalNumber(request.signal);
    if (sig <= 0) return;
    {
      std::lock_guard<std::mutex> l(work_mu);
      signal_queue.push_back(
          {std::string(request.jail),
           request.target.kind == engine::TargetKind::kProcess ? request.pid : -1,
           sig});
    }
    work_cv.notify_one();
  }
  void OnThrottle(const engine::ThrottleRequest& request) override {
    // The Linux backend enforces jail-wide pcpu and I/O limits with cgroup
    // knobs installed per rule; the engine's per-tick throttle sleeps (rules
    // with a process subject or per process/user) have no mechanism here.
    // They are counted, and their Enforcement detail says they are not
    // throttled (docs/linux-resources.md).
    (void)request;
    throttles_ignored.fetch_add(1, std::memory_order_relaxed);
  }

  void OnTick(const std::shared_ptr<const racct::Snapshot>& snap) {
    std::shared_ptr<const rctl::RuleSet> current = published_rules.load();
    bool recompiled = false;
    if (current != compiled) {
      if (absl::Status s = engine->Compile(*current, snap->tick->jails); !s.ok()) {
        LogError("engine compile failed", {{"error", std::string(s.message())}});
      } else {
        engine_health.RecordCompile(engine->compile_info());
      }
      compiled = current;
      rule_sampled.clear();
      for (const rctl::Rule& r : compiled->rules()) {
        rule_sampled.push_back(r.action == rctl::Action::kDeny && backend->DenyIsSampled(r));
      }
      recompiled = true;
    }
    const absl::Time t0 = absl::Now();
    const engine::EvaluationResult& result = engine->Evaluate(*snap);
    engine_health.Record(absl::Now() - t0, result);
    RouteSampledDenies(*snap, result, recompiled);
  }

  // Hands the sampled denies at or over to the worker, which has the
  // backend enforce them (LimitEnforcer::SetSampledDenies: on Linux, soft
  // rlimits clamped to current use). Queued when the set changes, and at
  // every new slow-tier pass while one is active (so processes that
  // appeared meanwhile are reached and the clamps follow the usage). No
  // allocation while nothing is at or over.
  void RouteSampledDenies(const racct::Snapshot& snap,
                          const engine::EvaluationResult& result, bool recompiled) {
    denies_now.clear();
    for (const engine::Decision& d : result.decisions) {
      if (d.kind != engine::DecisionKind::kDenyAtOrOver || d.rule >= rule_sampled.size() ||
          rule_sampled[d.rule] == 0) {
        continue;
      }
      if (d.target.kind == engine::TargetKind::kJail) {
        denies_now.push_back({d.rule, d.target.jail_slot, -1});
      } else {
        denies_now.push_back({d.rule, -1, d.target.pid});
      }
    }
    const bool new_slow = snap.slow != denies_slow;
    const bool changed = recompiled || denies_now != denies_sent ||
                         (!denies_now.empty() && snap.tick->jails != denies_jails);
    denies_slow = snap.slow;
    if (!changed && !(new_slow && !denies_now.empty())) return;
    denies_sent = denies_now;
    denies_jails = snap.tick->jails;
    std::vector<platform::SampledDeny> list;
    list.reserve(denies_now.size());
    for (const DenyKey& k : denies_now) {
      platform::SampledDeny d;
      d.rule = compiled->rules()[k.rule];
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
      std::lock_guard<std::mutex> l(work_mu);
      pending_denies = std::move(list);
    }
    work_cv.notify_one();
  }

  // ---- publishing ----
  void PublishRulesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu) {
    std::shared_ptr<const rctl::RuleSet> copy;
    {
      absl::MutexLock l(&rules_mu);
      copy = std::make_shared<const rctl::RuleSet>(rules);
    }
    published_rules.store(copy);
    if (sampler != nullptr) sampler->SetRules(*copy);
    PublishEnforcements();
  }

  void PublishEnforcements() ABSL_LOCKS_EXCLUDED(reg_mu) {
    auto list = std::make_shared<std::vector<platform::Enforcement>>();
    std::shared_ptr<const rctl::RuleSet> current = published_rules.load();
    absl::MutexLock l(&reg_mu);
    for (const rctl::Rule& r : current->rules()) {
      list->push_back(EnforcementOfRegLocked(r));
    }
    enforcements.store(std::move(list));
  }

  platform::Enforcement EnforcementOfRegLocked(const rctl::Rule& r)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(reg_mu) {
    if (r.subject == rctl::SubjectType::kJail) {
      auto it = registered.find(r.subject_id);
      if (it != registered.end()) {
        for (const platform::Enforcement& e : it->second.applied) {
          if (e.rule == r) return e;
        }
      }
    }
    return backend->enforcer().Describe(r);
  }

  void RefreshJailCache() {
    jail_cache.store(
        std::make_shared<const std::vector<jail::JailRecord>>(manager->List()));
  }

  // ---- jails ↔ backend registration ----
  absl::Status ApplyLimitsRegLocked(const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(reg_mu) {
    auto it = registered.find(name);
    if (it == registered.end()) return absl::OkStatus();
    std::vector<rctl::Rule> jail_rules;
    {
      absl::MutexLock l(&rules_mu);
      jail_rules = JailRules(rules, name);
    }
    absl::StatusOr<std::vector<platform::Enforcement>> applied =
        backend->enforcer().Apply(it->second.ref, jail_rules);
    if (!applied.ok()) {
      LogWarning("cannot apply limits",
                 {{"jail", name}, {"error", std::string(applied.status().message())}});
      return applied.status();
    }
    it->second.applied = *std::move(applied);
    for (const platform::Enforcement& e : it->second.applied) {
      LogDebug("limit applied",
               {{"jail", name},
                {"rule", rctl::FormatRule(e.rule)},
                {"fidelity", std::string(platform::FidelityName(e.fidelity))},
                {"mechanism", e.mechanism}});
    }
    return absl::OkStatus();
  }

  // Registers one running jail with the reader and the enforcer and
  // applies its limits. Called by the runtime hook right after the kernel
  // jail exists and before exec.start, so a workload never runs unlimited
  // (as rctl rules are linked when a FreeBSD jail is created).
  void RegisterRegLocked(const platform::JailInstance& instance)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(reg_mu) {
    const std::string& name = instance.ref.name;
    auto it = registered.find(name);
    if (it != registered.end() && it->second.init_pid == instance.init_pid) return;
    if (it != registered.end()) {
      backend->RemoveJail(name);
      registered.erase(it);
    }
    absl::StatusOr<platform::JailRef> ref = backend->AddJail(instance);
    if (!ref.ok()) {
      LogWarning("cannot sample or enforce jail",
                 {{"jail", name}, {"error", std::string(ref.status().message())}});
      return;
    }
    registered[name] = Registered{*ref, instance.init_pid, {}};
    (void)ApplyLimitsRegLocked(name);
  }

  void OnKernelJailCreated(const platform::JailInstance& instance) {
    {
      absl::MutexLock l(&reg_mu);
      RegisterRegLocked(instance);
    }
    PublishEnforcements();
  }

  void OnKernelJailRemoved(const std::string& name) {
    absl::MutexLock l(&reg_mu);
    if (registered.erase(name) > 0) backend->RemoveJail(name);
  }

  // Registers running jails the hook did not see (adopted ones), forgets
  // stopped ones; refreshes the published jail list.
  void SyncJailsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu) {
    const std::vector<jail::JailRecord> records = manager->List();
    {
      absl::MutexLock l(&reg_mu);
      std::set<std::string> running;
      for (const jail::JailRecord& rec : records) {
        if (rec.state != jail::JailState::kRunning) continue;
        running.insert(rec.spec.name);
        platform::JailInstance instance = rec.instance;
        instance.ref.name = rec.spec.name;
        instance.ref.jid = rec.jid;
        RegisterRegLocked(instance);
      }
      for (auto it = registered.begin(); it != registered.end();) {
        if (running.count(it->first) == 0) {
          backend->RemoveJail(it->first);
          it = registered.erase(it);
        } else {
          ++it;
        }
      }
    }
    jail_cache.store(std::make_shared<const std::vector<jail::JailRecord>>(records));
    PublishEnforcements();
  }

  // Swaps in `next` as the rule database: every registered jail whose rules
  // differ gets them at once; if one cannot, the ones done are put back and
  // the database stays as it was.
  absl::Status SwapRulesLocked(const rctl::RuleSet& next)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu) {
    rctl::RuleSet old;
    {
      absl::MutexLock l(&rules_mu);
      old = rules;
    }
    {
      absl::MutexLock rl(&reg_mu);
      std::vector<std::string> done;
      absl::Status failure;
      for (auto& [name, reg] : registered) {
        const std::vector<rctl::Rule> before = JailRules(old, name);
        const std::vector<rctl::Rule> after = JailRules(next, name);
        if (before == after) continue;
        absl::StatusOr<std::vector<platform::Enforcement>> applied =
            backend->enforcer().Apply(reg.ref, after);
        if (!applied.ok()) {
          failure = applied.status();
          LogWarning("cannot apply limits",
                     {{"jail", name}, {"error", std::string(failure.message())}});
          break;
        }
        reg.applied = *std::move(applied);
        done.push_back(name);
      }
      if (!failure.ok()) {
        for (const std::string& name : done) {
          Registered& reg = registered[name];
          absl::StatusOr<std::vector<platform::Enforcement>> back =
              backend->enforcer().Apply(reg.ref, JailRules(old, name));
          if (back.ok()) reg.applied = *std::move(back);
        }
        return failure;
      }
      // Swapped while reg_mu is held, so a jail the runtime hook registers
      // meanwhile gets either the old rules (and this loop) or the new ones.
      absl::MutexLock l(&rules_mu);
      rules = next;
    }
    PublishRulesLocked();
    return absl::OkStatus();
  }

  // Defines (or updates) and starts the policy's jails that should run.
  std::vector<std::string> EnsurePolicyJailsLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu) {
    std::vector<std::string> failures;
    for (const std::string& name : policy.StartOrder()) {
      const policy::JailPolicy* jp = policy.FindJail(name);
      if (jp == nullptr) continue;
      absl::StatusOr<jail::JailRecord> rec = manager->Get(name);
      absl::Status s;
      if (!rec.ok()) {
        s = manager->Create(jp->spec);
        if (s.ok()) LogInfo("jail defined", {{"jail", name}});
      } else if (!(rec->spec == jp->spec)) {
        s = manager->Update(jp->spec);
        if (s.ok() && rec->state == jail::JailState::kRunning) {
          LogInfo("jail definition changed; restarting", {{"jail", name}});
          s = manager->Restart(name);
        }
      }
      if (s.ok()) s = manager->Start(name);
      if (!s.ok()) {
        LogError("jail failed to start",
                 {{"jail", name}, {"error", std::string(s.message())}});
        failures.push_back(StrCat(name, ": ", ToStd(s.message())));
      }
    }
    SyncJailsLocked();
    return failures;
  }

  void Worker() {
    std::unique_lock<std::mutex> l(work_mu);
    absl::Time next_maintenance = absl::Now() + options.maintenance_interval;
    while (!stop_worker) {
      work_cv.wait_for(l, std::chrono::milliseconds(100));
      while (!signal_queue.empty()) {
        QueuedSignal q = std::move(signal_queue.front());
        signal_queue.pop_front();
        l.unlock();
        DeliverSignal(q);
        l.lock();
      }
      if (pending_denies.has_value()) {
        std::vector<platform::SampledDeny> denies = std::move(*pending_denies);
        pending_denies.reset();
        l.unlock();
        EnforceSampledDenies(denies);
        l.lock();
      }
      if (stop_worker) break;
      if (absl::Now() >= next_maintenance) {
        l.unlock();
        Maintain();
        l.lock();
        next_maintenance = absl::Now() + options.maintenance_interval;
      }
    }
  }

  void EnforceSampledDenies(const std::vector<platform::SampledDeny>& denies) {
    if (absl::Status s = backend->enforcer().SetSampledDenies(denies); !s.ok()) {
      LogDebug("sampled deny enforcement incomplete",
               {{"denies", StrCat(denies.size())}, {"error", std::string(s.message())}});
    }
  }

  void DeliverSignal(const QueuedSignal& q) {
    if (q.pid > 0) {
      if (kill(static_cast<pid_t>(q.pid), q.host_signal) != 0) {
        LogDebug("signal not delivered", {{"pid", StrCat(q.pid)}, {"errno", StrCat(errno)}});
      }
      return;
    }
    std::shared_ptr<const std::vector<jail::JailRecord>> recs = jail_cache.load();
    if (recs == nullptr) return;
    for (const jail::JailRecord& rec : *recs) {
      if (rec.spec.name != q.jail || rec.state != jail::JailState::kRunning) continue;
      if (absl::Status s = runtime->SignalAll(rec.instance, q.host_signal); !s.ok()) {
        LogWarning("rctl signal failed",
                   {{"jail", q.jail}, {"error", std::string(s.message())}});
      }
    }
  }

  void Maintain() {
    if (absl::Status s = manager->Reconcile(); !s.ok()) {
      LogWarning("reconcile failed", {{"error", std::string(s.message())}});
    }
    absl::MutexLock l(&control_mu);
    SyncJailsLocked();
    absl::MutexLock rl(&reg_mu);
    for (const auto& [name, reg] : registered) {
      if (absl::Status s = backend->Reconcile(name); !s.ok()) {
        LogDebug("limit reconcile failed",
                 {{"jail", name}, {"error", std::string(s.message())}});
      }
    }
  }

  // ---- the API's views ----
  api::RuleInfo RuleInfoOf(const platform::Enforcement& e) {
    return api::RuleInfo{rctl::FormatRule(e.rule),
                         std::string(platform::FidelityName(e.fidelity)),
                         e.mechanism, e.detail};
  }

  api::JailInfo InfoOf(const jail::JailRecord& rec) {
    api::JailInfo info;
    info.name = rec.spec.name;
    info.state = std::string(jail::JailStateName(rec.state));
    info.jid = rec.state == jail::JailState::kStopped ? -1 : rec.jid;
    info.path = rec.spec.path;
    info.base_root = rec.spec.base_root;
    info.hostname = rec.spec.hostname.empty() ? rec.spec.name : rec.spec.hostname;
    info.ip4 = rec.spec.network.ip4_addresses;
    info.depend = rec.spec.depend;
    info.persist = rec.spec.persist;
    if (rec.state != jail::JailState::kStopped) {
      info.init_pid = rec.instance.init_pid;
      info.started = rec.instance.started;
    }
    std::shared_ptr<const policy::Policy> pol = published_policy.load();
    if (const policy::JailPolicy* jp = pol->FindJail(info.name); jp != nullptr) {
      info.in_policy = true;
      info.template_name = jp->template_name;
    }
    std::shared_ptr<const std::vector<platform::Enforcement>> enf =
        enforcements.load();
    if (enf != nullptr) {
      for (const platform::Enforcement& e : *enf) {
        if (e.rule.subject == rctl::SubjectType::kJail &&
            e.rule.subject_id == info.name) {
          info.limits.push_back(RuleInfoOf(e));
        }
      }
    }
    return info;
  }

  // ---- reload ----
  absl::StatusOr<api::ApplyResult> ApplyPolicy(absl::StatusOr<policy::Policy> loaded,
                                               bool dry_run) {
    absl::MutexLock l(&control_mu);
    if (!loaded.ok()) {
      RecordReload(false, std::string(loaded.status().message()));
      LogError("policy reload refused; the running policy stays",
               {{"error", std::string(loaded.status().message())}});
      return loaded.status();
    }
    policy::Policy next = *std::move(loaded);
    if (next.server.backend != policy.server.backend &&
        next.server.backend != policy::Backend::kAuto) {
      const std::string why =
          StrCat("server.backend changed to ", policy::BackendName(next.server.backend),
                 "; restart jailwarden to change backends");
      if (next.server.backend == policy::Backend::kFreeBsd) {
        RecordReload(false, why);
        return absl::FailedPreconditionError(ToAbsl(why));
      }
    }
    const policy::PolicyDiff diff = policy::Diff(policy, next);
    api::ApplyResult result;
    result.diff = policy::DescribeDiff(diff);
    result.changed = !diff.empty();
    if (dry_run) return result;

    for (const std::string& key : diff.server_changes) {
      LogWarning("server setting changed; it takes effect when jailwarden restarts",
                 {{"key", key}});
    }
    // 1. Jails the policy no longer has.
    for (const std::string& name : diff.jails_to_remove) {
      absl::Status s = manager->Destroy(name);
      if (s.ok()) {
        LogInfo("jail removed by reload", {{"jail", name}});
      } else if (s.code() != absl::StatusCode::kNotFound) {
        LogError("jail removal failed", {{"jail", name}, {"error", std::string(s.message())}});
        result.failures.push_back(StrCat(name, ": ", ToStd(s.message())));
      }
    }
    SyncJailsLocked();
    // 2. The rule database, in one step.
    rctl::RuleSet next_rules;
    {
      absl::MutexLock rl(&rules_mu);
      next_rules = rules;
    }
    for (const rctl::Rule& r : diff.rules_to_remove) (void)next_rules.Remove(r);
    for (const rctl::Rule& r : diff.rules_to_add) {
      if (absl::Status s = next_rules.Add(r); !s.ok()) {
        RecordReload(false, std::string(s.message()));
        return s;
      }
    }
    if (absl::Status s = SwapRulesLocked(next_rules); !s.ok()) {
      const std::string why = StrCat("new limits could not be applied: ", ToStd(s.message()));
      RecordReload(false, why);
      LogError("policy reload refused; the running policy stays", {{"error", why}});
      return absl::Status(s.code(), ToAbsl(why));
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
    policy = std::move(next);
    published_policy.store(std::make_shared<const policy::Policy>(policy));
    for (const std::string& name : diff.jails_to_restart) {
      const policy::JailPolicy* jp = policy.FindJail(name);
      if (jp == nullptr) continue;
      absl::Status s = manager->Update(jp->spec);
      if (s.ok()) s = manager->Restart(name);
      LogInfo("jail restarted by reload", {{"jail", name}});
      if (!s.ok()) result.failures.push_back(StrCat(name, ": ", ToStd(s.message())));
    }
    for (std::string& f : EnsurePolicyJailsLocked()) {
      result.failures.push_back(std::move(f));
    }
    RecordReload(true, "");
    {
      absl::MutexLock sl(&status_mu);
      ++policy_generation;
    }
    LogInfo("policy applied", {{"changes", result.diff.empty() ? "none" : result.diff},
                               {"failures", StrCat(result.failures.size())}});
    return result;
  }

  void RecordReload(bool ok, std::string error) {
    absl::MutexLock l(&status_mu);
    last_reload = absl::Now();
    last_reload_ok = ok;
    last_reload_error = std::move(error);
  }

  void Shutdown() {
    if (shut_down.exchange(true)) return;
    ready.store(false);
    if (api != nullptr) api->Stop();
    metrics_endpoint.reset();
    api.reset();
    {
      std::lock_guard<std::mutex> l(work_mu);
      stop_worker = true;
    }
    work_cv.notify_all();
    if (worker.joinable()) worker.join();
    if (sampler != nullptr) sampler->Stop();
    // Lift every sampled-deny clamp: nobody would lift it after we exit.
    EnforceSampledDenies({});
    if (options.stop_jails_on_exit && manager != nullptr) {
      LogInfo("stopping every jail");
      if (absl::Status s = manager->StopAll(); !s.ok()) {
        LogError("stopping jails failed", {{"error", std::string(s.message())}});
      }
      absl::MutexLock l(&control_mu);
      SyncJailsLocked();
    }
    LogInfo("jailwarden stopped",
            {{"jails_kept_running", options.stop_jails_on_exit ? "no" : "yes"}});
  }
};

// rctl(2) over the daemon's rule database.
class Daemon::Impl::RctlFront final : public rctl::RctlBackend {
 public:
  explicit RctlFront(Impl& d) : d_(d) {}

  absl::Status AddRule(std::string_view text) override {
    JW_ASSIGN_OR_RETURN(rctl::Rule rule, rctl::ParseRuleForAdd(text, ProcessExists));
    absl::MutexLock l(&d_.control_mu);
    rctl::RuleSet next;
    {
      absl::MutexLock rl(&d_.rules_mu);
      next = d_.rules;
    }
    JW_RETURN_IF_ERROR(next.Add(rule));
    JW_RETURN_IF_ERROR(d_.SwapRulesLocked(next));
    LogInfo("rule added", {{"rule", rctl::FormatRule(rule)},
                           {"jail", rule.subject == rctl::SubjectType::kJail
                                        ? rule.subject_id : ""}});
    return absl::OkStatus();
  }

  absl::Status RemoveRule(std::string_view text) override {
    JW_ASSIGN_OR_RETURN(rctl::Rule filter, rctl::ParseRuleText(text, ProcessExists));
    absl::MutexLock l(&d_.control_mu);
    rctl::RuleSet next;
    {
      absl::MutexLock rl(&d_.rules_mu);
      next = d_.rules;
    }
    JW_ASSIGN_OR_RETURN(int removed, next.Remove(filter));
    JW_RETURN_IF_ERROR(d_.SwapRulesLocked(next));
    LogInfo("rules removed", {{"filter", rctl::FormatRule(filter)},
                              {"count", StrCat(removed)}});
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> GetRules(std::string_view text) override {
    JW_ASSIGN_OR_RETURN(rctl::Rule filter, rctl::ParseRuleText(text, ProcessExists));
    absl::MutexLock rl(&d_.rules_mu);
    return d_.rules.ListText(filter);
  }

  absl::StatusOr<std::string> GetLimits(std::string_view text) override {
    JW_ASSIGN_OR_RETURN(rctl::Rule filter, rctl::ParseRuleText(text, ProcessExists));
    if (filter.subject == rctl::SubjectType::kUndefined) {
      return ErrnoStatus(EINVAL, "rctl_get_limits: no subject");
    }
    if (filter.subject != rctl::SubjectType::kProcess) {
      return ErrnoStatus(EOPNOTSUPP, "rctl_get_limits: subject is not a process");
    }
    const std::optional<int64_t> pid = filter.SubjectNumber();
    if (!pid.has_value()) return ErrnoStatus(EINVAL, "rctl_get_limits: no pid");
    int64_t ruid = -1, euid = -1;
    std::string jail;
    if (std::shared_ptr<const racct::Snapshot> snap = d_.sampler->Latest();
        snap != nullptr && snap->slow != nullptr) {
      if (std::optional<uint32_t> i = snap->slow->FindProcess(*pid); i.has_value()) {
        const racct::ProcessInfo& p = snap->slow->processes[*i];
        ruid = p.ruid;
        euid = p.euid;
        jail = p.jail == "0" ? "" : p.jail;
      }
    }
    if (ruid < 0 && !ProcessUids(*pid, &ruid, &euid)) {
      return ErrnoStatus(ESRCH, "rctl_get_limits: no such process");
    }
    // Every rule linked to the process (§6.7): its own, its real and
    // effective user's, its jail's.
    absl::MutexLock rl(&d_.rules_mu);
    std::vector<std::string> out;
    for (const rctl::Rule& r : d_.rules.List(rctl::Rule{})) {
      bool applies = false;
      switch (r.subject) {
        case rctl::SubjectType::kProcess:
          applies = r.SubjectNumber() == pid;
          break;
        case rctl::SubjectType::kUser:
          applies = r.SubjectNumber() == ruid || r.SubjectNumber() == euid;
          break;
        case rctl::SubjectType::kJail:
          applies = !jail.empty() && r.subject_id == jail;
          break;
        case rctl::SubjectType::kLoginclass:
        case rctl::SubjectType::kUndefined:
          break;
      }
      if (applies) out.push_back(rctl::FormatRule(r));
    }
    return Join(out, ",");
  }

  absl::StatusOr<std::string> GetRacct(std::string_view text) override {
    JW_ASSIGN_OR_RETURN(rctl::Rule filter, rctl::ParseRuleText(text, ProcessExists));
    if (filter.subject == rctl::SubjectType::kUndefined || filter.subject_id.empty()) {
      return ErrnoStatus(EINVAL, "rctl_get_racct: subject and id required");
    }
    rctl::UsageVector usage{};
    std::shared_ptr<const racct::Snapshot> snap = d_.sampler->Latest();
    if (snap != nullptr) {
      switch (filter.subject) {
        case rctl::SubjectType::kJail:
          if (const rctl::UsageVector* u = snap->FindJailUsage(filter.subject_id)) {
            usage = *u;
          }
          break;
        case rctl::SubjectType::kProcess:
          if (snap->slow != nullptr) {
            if (auto i = snap->slow->FindProcess(*filter.SubjectNumber())) {
              usage = snap->slow->processes[*i].usage;
            }
          }
          break;
        case rctl::SubjectType::kUser:
          if (snap->slow != nullptr) {
            if (auto i = snap->slow->FindUser(*filter.SubjectNumber())) {
              usage = snap->slow->users[*i].usage;
            }
          }
          break;
        case rctl::SubjectType::kLoginclass:
        case rctl::SubjectType::kUndefined:
          break;
      }
    }
    return rctl::FormatUsage(usage, filter.subject);
  }

 private:
  Impl& d_;
};

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Daemon::~Daemon() { Shutdown(); }

void Daemon::Shutdown() { impl_->Shutdown(); }

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(
    DaemonOptions options, policy::Policy policy,
    std::unique_ptr<HostBackend> backend) {
  auto impl = std::make_unique<Impl>();
  Impl& d = *impl;
  d.options = std::move(options);
  d.backend = std::move(backend);
  const policy::ServerConfig server = policy.server;
  {
    absl::MutexLock l(&d.control_mu);
    d.policy = policy;
  }
  d.published_policy.store(std::make_shared<const policy::Policy>(std::move(policy)));
  d.published_rules.store(std::make_shared<const rctl::RuleSet>());
  d.enforcements.store(std::make_shared<const std::vector<platform::Enforcement>>());
  d.jail_cache.store(std::make_shared<const std::vector<jail::JailRecord>>());
  d.rctl_front = std::make_unique<Impl::RctlFront>(d);

  if (d.options.serve_http) {
    JW_ASSIGN_OR_RETURN(d.token, api::LoadOrCreateToken(server.token_file));
  } else {
    d.token = "test-token";
  }

  // Jails: adopt what a previous run left, then make the policy true.
  jail::ManagerOptions mo;
  mo.state_dir = server.state_dir;
  // ".transient": jail names have no '.', so no jail's runtime entry meets it.
  mo.transient_dir = StrCat(RunDirFor(server.state_dir), "/.transient");
  mo.observer = [](const jail::LifecycleEvent& e) {
    if (!e.ok) {
      LogWarning("jail step failed", {{"jail", e.jail}, {"step", e.step},
                                      {"command", e.command},
                                      {"rollback", e.rollback ? "yes" : "no"}});
    } else {
      LogDebug("jail step", {{"jail", e.jail}, {"step", e.step}, {"command", e.command}});
    }
  };
  std::unique_ptr<platform::JailRuntime> inner = d.backend->TakeRuntime();
  if (inner == nullptr) return absl::InternalError("backend has no runtime");
  auto runtime = std::make_unique<HookedRuntime>(
      std::move(inner),
      [&d](const platform::JailInstance& i) { d.OnKernelJailCreated(i); },
      [&d](const std::string& name) { d.OnKernelJailRemoved(name); });
  d.runtime = runtime.get();
  JW_ASSIGN_OR_RETURN(d.manager, jail::Manager::Open(mo, std::move(runtime)));
  for (const std::string& name : d.manager->open_report().adopted) {
    LogInfo("jail adopted", {{"jail", name}});
  }
  for (const std::string& name : d.manager->open_report().cleaned) {
    LogInfo("jail cleaned up after an earlier run", {{"jail", name}});
  }

  // Sampler and engine exist before any jail is registered so rule
  // publishing reaches them.
  racct::SamplerOptions so;
  so.interval = server.sample_interval;
  so.slow_interval = server.slow_interval;
  so.history = std::min(server.history, absl::Hours(1));
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  so.ncpu = ncpu > 0 ? static_cast<int>(ncpu) : 1;
  JW_RETURN_IF_ERROR(racct::ValidateSamplerOptions(so));
  d.sampler = std::make_unique<racct::Sampler>(d.backend->reader(),
                                               MonotonicClock::Get(), so);
  engine::EngineOptions eo;
  eo.log_rate_limit = static_cast<int>(server.log_rate_limit);
  eo.devctl_rate_limit = static_cast<int>(server.devctl_rate_limit);
  eo.throttle_min = server.throttle.min;
  eo.throttle_max = server.throttle.max;
  eo.throttle_pct = server.throttle.pct;
  eo.throttle_pct2 = server.throttle.pct2;
  HostBackend* hb = d.backend.get();
  eo.deny_is_sampled = [hb](const rctl::Rule& r) { return hb->DenyIsSampled(r); };
  JW_RETURN_IF_ERROR(engine::ValidateEngineOptions(eo));
  d.engine = std::make_unique<engine::Engine>(d, eo);
  d.sampler->SetTickCallback(
      [&d](const std::shared_ptr<const racct::Snapshot>& snap) { d.OnTick(snap); });

  {
    absl::MutexLock l(&d.control_mu);
    {
      absl::MutexLock rl(&d.rules_mu);
      d.rules = d.policy.AllRules();
    }
    d.PublishRulesLocked();
    std::vector<std::string> failures = d.EnsurePolicyJailsLocked();
    LogInfo("policy applied",
            {{"file", d.options.config_path},
             {"jails", StrCat(d.policy.jails.size())},
             {"rules", StrCat(d.published_rules.load()->size())},
             {"failures", StrCat(failures.size())}});
  }
  if (d.options.run_sampler) JW_RETURN_IF_ERROR(d.sampler->Start());
  d.worker = std::thread([&d] { d.Worker(); });

  std::unique_ptr<Daemon> daemon(new Daemon(std::move(impl)));
  if (d.options.serve_http) {
    metrics::MetricsSources sources;
    sources.snapshot = [&d] { return d.sampler->Latest(); };
    sources.rule_stats = [&d] { return d.engine->Stats(); };
    sources.jails = [&d] {
      std::vector<metrics::JailStatus> out;
      std::shared_ptr<const std::vector<jail::JailRecord>> recs = d.jail_cache.load();
      std::shared_ptr<const policy::Policy> pol = d.published_policy.load();
      for (const jail::JailRecord& rec : *recs) {
        metrics::JailStatus s;
        s.name = rec.spec.name;
        s.jid = rec.state == jail::JailState::kStopped ? -1 : rec.jid;
        s.state = std::string(jail::JailStateName(rec.state));
        if (rec.state != jail::JailState::kStopped &&
            rec.instance.started != absl::InfinitePast()) {
          s.start_time = rec.instance.started;
        }
        s.expected_running = pol->FindJail(rec.spec.name) != nullptr;
        out.push_back(std::move(s));
      }
      return out;
    };
    sources.enforcements = [&d] { return d.enforcements.load(); };
    sources.engine_health = [&d] { return d.engine_health.Read(); };
    metrics::MetricsOptions mopts;
    mopts.backend = std::string(d.backend->name());
    d.collector = std::make_unique<metrics::MetricsCollector>(sources, mopts);

    if (!server.api_socket.empty()) {
      LogWarning(
          "server.api_socket is not served: Debian's CivetWeb is built without "
          "unix-socket support; the API is on the TCP listeners with the bearer "
          "token",
          {{"api_socket", server.api_socket}});
    }
    api::ApiServerOptions ao;
    ao.http.listen = d.options.listen.empty() ? server.listen : d.options.listen;
    if (ao.http.listen.empty()) {
      return absl::FailedPreconditionError(
          "server.listen is empty and this CivetWeb cannot serve a unix socket: "
          "nothing to listen on");
    }
    ao.router.token = d.token;
    const std::string metrics_path = server.metrics_path;
    ao.http.mount_first = [&d, metrics_path](CivetServer& civet) -> absl::Status {
      JW_ASSIGN_OR_RETURN(d.metrics_endpoint,
                          metrics::RegisterMetricsHandler(civet, *d.collector,
                                                          metrics_path));
      return absl::OkStatus();
    };
    JW_ASSIGN_OR_RETURN(d.api, api::ApiServer::Start(*daemon, ao));
    std::vector<std::string> where;
    const std::vector<int> ports = d.api->ports();
    for (std::size_t i = 0; i < ao.http.listen.size() && i < ports.size(); ++i) {
      const std::string& l = ao.http.listen[i];
      where.push_back(StrCat(l.substr(0, l.rfind(':')), ":", ports[i]));
    }
    LogInfo("listening", {{"addresses", Join(where, ",")},
                          {"metrics", server.metrics_path},
                          {"token_file", server.token_file}});
  }
  d.ready.store(true);
  LogInfo("jailwarden ready", {{"backend", std::string(d.backend->name())},
                               {"version", kVersion}});
  return daemon;
}

absl::StatusOr<api::ApplyResult> Daemon::ReloadFromFile() {
  LogInfo("reloading policy", {{"file", impl_->options.config_path}});
  return impl_->ApplyPolicy(policy::LoadPolicyFile(impl_->options.config_path), false);
}

std::vector<int> Daemon::ports() const {
  return impl_->api == nullptr ? std::vector<int>{} : impl_->api->ports();
}

const std::string& Daemon::token() const { return impl_->token; }

std::vector<api::JailInfo> Daemon::ListJails() {
  std::vector<api::JailInfo> out;
  for (const jail::JailRecord& rec : *impl_->jail_cache.load()) {
    if (rec.ephemeral) continue;
    out.push_back(impl_->InfoOf(rec));
  }
  return out;
}

absl::StatusOr<api::JailInfo> Daemon::GetJail(std::string_view name) {
  for (const jail::JailRecord& rec : *impl_->jail_cache.load()) {
    if (rec.spec.name == name) return impl_->InfoOf(rec);
  }
  return absl::NotFoundError(ToAbsl(StrCat("no jail named '", name, "'")));
}

absl::Status Daemon::CreateJail(const api::CreateJailRequest& request) {
  Impl& d = *impl_;
  absl::MutexLock l(&d.control_mu);
  platform::JailSpec spec = request.spec;
  std::vector<rctl::Rule> limits;
  if (!request.template_name.empty()) {
    JW_ASSIGN_OR_RETURN(policy::JailPolicy jp,
                        policy::InstantiateTemplate(d.policy, request.template_name,
                                                    request.spec.name));
    spec = jp.spec;
    limits = jp.limits;
  } else if (std::optional<std::string> why = policy::JailNameProblem(spec.name)) {
    return absl::InvalidArgumentError(ToAbsl(StrCat("jail name: ", *why)));
  }
  for (const std::string& text : request.limits) {
    JW_ASSIGN_OR_RETURN(rctl::Rule rule, LimitRule(spec.name, text));
    limits.push_back(std::move(rule));
  }
  JW_RETURN_IF_ERROR(d.manager->Create(spec));
  LogInfo("jail defined", {{"jail", spec.name}, {"by", "api"}});
  rctl::RuleSet next;
  {
    absl::MutexLock rl(&d.rules_mu);
    next = d.rules;
  }
  for (const rctl::Rule& r : limits) {
    if (absl::Status s = next.Add(r); !s.ok()) {
      (void)d.manager->Destroy(spec.name);
      return s;
    }
  }
  JW_RETURN_IF_ERROR(d.SwapRulesLocked(next));
  absl::Status s;
  if (request.start) {
    s = d.manager->Start(spec.name);
    if (s.ok()) LogInfo("jail started", {{"jail", spec.name}});
  }
  d.SyncJailsLocked();
  return s;
}

absl::Status Daemon::DestroyJail(std::string_view name) {
  Impl& d = *impl_;
  absl::MutexLock l(&d.control_mu);
  JW_RETURN_IF_ERROR(d.manager->Destroy(name));
  LogInfo("jail destroyed", {{"jail", std::string(name)}});
  d.SyncJailsLocked();
  // Its jail rules go too, unless the policy defines them.
  rctl::RuleSet next;
  {
    absl::MutexLock rl(&d.rules_mu);
    next = d.rules;
  }
  rctl::Rule filter;
  filter.subject = rctl::SubjectType::kJail;
  filter.subject_id = std::string(name);
  if (d.policy.FindJail(name) == nullptr && next.Remove(filter).ok()) {
    (void)d.SwapRulesLocked(next);
  }
  return absl::OkStatus();
}

absl::Status Daemon::StartJail(std::string_view name) {
  absl::MutexLock l(&impl_->control_mu);
  absl::Status s = impl_->manager->Start(name);
  if (s.ok()) LogInfo("jail started", {{"jail", std::string(name)}});
  impl_->SyncJailsLocked();
  return s;
}

absl::Status Daemon::StopJail(std::string_view name) {
  absl::MutexLock l(&impl_->control_mu);
  absl::Status s = impl_->manager->Stop(name);
  if (s.ok()) LogInfo("jail stopped", {{"jail", std::string(name)}});
  impl_->SyncJailsLocked();
  return s;
}

absl::Status Daemon::RestartJail(std::string_view name) {
  absl::MutexLock l(&impl_->control_mu);
  absl::Status s = impl_->manager->Restart(name);
  if (s.ok()) LogInfo("jail restarted", {{"jail", std::string(name)}});
  impl_->SyncJailsLocked();
  return s;
}

absl::StatusOr<platform::ExecResult> Daemon::Exec(
    std::string_view name, const platform::ExecRequest& request) {
  return impl_->manager->Exec(name, request);
}

absl::StatusOr<platform::ExecResult> Daemon::Run(
    const api::RunRequest& run, const platform::ExecRequest& request) {
  Impl& d = *impl_;
  platform::JailSpec spec = run.spec;
  std::vector<rctl::Rule> limits;
  {
    absl::MutexLock l(&d.control_mu);
    if (spec.name.empty()) spec.name = StrCat("run-", getpid(), "-", ++d.run_counter);
    if (!run.template_name.empty()) {
      JW_ASSIGN_OR_RETURN(policy::JailPolicy jp,
                          policy::InstantiateTemplate(d.policy, run.template_name,
                                                      spec.name));
      spec = jp.spec;
      limits = jp.limits;
    }
    for (const std::string& text : run.limits) {
      JW_ASSIGN_OR_RETURN(rctl::Rule rule, LimitRule(spec.name, text));
      limits.push_back(std::move(rule));
    }
    if (!limits.empty()) {
      rctl::RuleSet next;
      {
        absl::MutexLock rl(&d.rules_mu);
        next = d.rules;
      }
      for (const rctl::Rule& r : limits) JW_RETURN_IF_ERROR(next.Add(r));
      JW_RETURN_IF_ERROR(d.SwapRulesLocked(next));
    }
  }
  LogInfo("one-shot jail", {{"jail", spec.name}});
  // The runtime hook registers the one-shot jail and applies its limits as
  // soon as its kernel jail exists, before the command runs.
  absl::StatusOr<platform::ExecResult> result = d.manager->Run(spec, request);
  if (!limits.empty()) {
    absl::MutexLock l(&d.control_mu);
    rctl::RuleSet next;
    {
      absl::MutexLock rl(&d.rules_mu);
      next = d.rules;
    }
    rctl::Rule filter;
    filter.subject = rctl::SubjectType::kJail;
    filter.subject_id = spec.name;
    if (next.Remove(filter).ok()) (void)d.SwapRulesLocked(next);
    d.SyncJailsLocked();
  }
  return result;
}

rctl::RctlBackend& Daemon::Rctl() { return *impl_->rctl_front; }

absl::StatusOr<std::vector<api::RuleInfo>> Daemon::DescribeRules(
    std::string_view filter_text) {
  JW_ASSIGN_OR_RETURN(rctl::Rule filter,
                      rctl::ParseRuleText(filter_text, ProcessExists));
  std::vector<api::RuleInfo> out;
  std::shared_ptr<const std::vector<platform::Enforcement>> enf =
      impl_->enforcements.load();
  std::vector<rctl::Rule> rules;
  {
    absl::MutexLock rl(&impl_->rules_mu);
    rules = impl_->rules.List(filter);
  }
  for (const rctl::Rule& r : rules) {
    bool found = false;
    for (const platform::Enforcement& e : *enf) {
      if (e.rule == r) {
        out.push_back(impl_->RuleInfoOf(e));
        found = true;
        break;
      }
    }
    if (!found) out.push_back(impl_->RuleInfoOf(impl_->backend->enforcer().Describe(r)));
  }
  return out;
}

absl::StatusOr<api::ApplyResult> Daemon::Apply(std::string_view text,
                                               std::string_view filename,
                                               bool dry_run) {
  return impl_->ApplyPolicy(policy::LoadPolicyText(text, filename), dry_run);
}

api::DaemonStatus Daemon::Status() {
  Impl& d = *impl_;
  api::DaemonStatus s;
  s.ready = d.ready.load();
  s.version = kVersion;
  s.backend = std::string(d.backend->name());
  s.policy_file = d.options.config_path;
  {
    absl::MutexLock l(&d.status_mu);
    s.policy_generation = d.policy_generation;
    s.last_reload = d.last_reload;
    s.last_reload_ok = d.last_reload_ok;
    s.last_reload_error = d.last_reload_error;
  }
  s.jails = d.jail_cache.load()->size();
  s.rules = d.published_rules.load()->size();
  if (std::shared_ptr<const racct::Snapshot> snap = d.sampler->Latest()) {
    s.sampler_ticks = snap->health.ticks;
  }
  s.events = d.events.last_seq();
  return s;
}

std::shared_ptr<const racct::Snapshot> Daemon::LatestSnapshot() {
  return impl_->sampler->Latest();
}

engine::EventStream& Daemon::Events() { return impl_->events; }

void Daemon::TickForTest() {
  (void)impl_->sampler->TickOnce();  // runs OnTick through the callback
}

}  // namespace jailwarden::service
