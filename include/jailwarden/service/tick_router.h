#pragma once

// service::TickRouter: from the sampler's tick to actions. On the sampler
// thread it compiles the engine when the published RuleSnapshot changed,
// evaluates every snapshot, and turns the engine's decisions into work: log
// lines, devctl events, signals and sampled denies. Signals and sampled
// denies are queued for its worker thread (the sampler thread never blocks
// on a process or the kernel), which also runs the daemon's maintenance
// every `maintenance_interval`.
//
// Where the kernel carries out every RCTL action itself (FreeBSD's rctl(2):
// `kernel_acts`), the router acts on nothing: the engine still evaluates
// every tick and counts matches, headroom and peaks for metrics, but no
// line is logged, no devctl event appended, no signal sent, no throttle
// counted and no sampled deny handed to the enforcer — the kernel already
// did each of them at the moment of the charge, and doing it again from a
// sample would log twice and signal twice.
//
// Thread-safety: OnTick only from the sampler thread (or a test calling
// Sampler::TickOnce); Start/Stop from the owner; the rest from any thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "jailwarden/engine/engine.h"
#include "jailwarden/engine/event_stream.h"
#include "jailwarden/metrics/collector.h"
#include "jailwarden/platform/limit_enforcer.h"
#include "jailwarden/racct/snapshot.h"
#include "jailwarden/service/rule_database.h"

namespace jailwarden::service {

struct TickRouterOptions {
  engine::EngineOptions engine;  // deny_is_sampled unused: the snapshot says
  // A signal action with a jail target: sends a host signal to the
  // running jail's processes as the rule's `resource` says (for a memory
  // resource its biggest consumer, else every process but its init;
  // platform/linux/signal_target.h).
  std::function<void(const std::string& jail, int host_signal, rctl::Resource resource)>
      signal_jail;
  // The daemon's periodic upkeep, on the worker thread.
  std::function<void()> maintain;
  absl::Duration maintenance_interval = absl::Seconds(1);
  // Called on the sampler thread with the rules the engine was just
  // compiled from (the sampler's throttle minimums follow them).
  std::function<void(const FlatRules&)> rules_compiled;
  // The kernel carries out every rule's action (HostBackend::KernelActs()):
  // the engine only counts (see the file comment).
  bool kernel_acts = false;
};

class TickRouter final : public engine::ActionSink {
 public:
  // `rules`, `enforcer`, `events` and `health` must outlive the router.
  TickRouter(RuleDatabase& rules, platform::LimitEnforcer& enforcer,
             engine::EventStream& events, metrics::EngineHealthRecorder& health,
             TickRouterOptions options);
  ~TickRouter() override;  // Stop()

  // Starts the worker thread.
  void Start();
  // Stops the worker, then lifts every sampled-deny clamp (nobody would
  // lift it after the daemon exits). Idempotent.
  void Stop();

  // The sampler's tick callback.
  void OnTick(const std::shared_ptr<const racct::Snapshot>& snapshot);

  // The engine (Stats() for metrics; thread-safe there).
  const engine::Engine& engine() const { return *engine_; }
  // Process or per-user throttles without a mechanism on this backend.
  uint64_t throttles_ignored() const { return throttles_ignored_.load(); }
  // Actions the engine decided and the router left to the kernel
  // (kernel_acts): log lines, devctl events, signals, throttles.
  uint64_t left_to_kernel() const { return left_to_kernel_.load(); }

  // engine::ActionSink (sampler thread; must not block).
  void OnLog(std::string_view line) override;
  void OnDevctl(std::string_view line) override;
  void OnSignal(const engine::SignalRequest& request) override;
  void OnThrottle(const engine::ThrottleRequest& request) override;

 private:
  struct QueuedSignal {
    std::string jail;
    int64_t pid = -1;
    int host_signal = 0;
    rctl::Resource resource = rctl::Resource::kCputime;  // the rule's
  };
  // One sampled deny at or over, as the engine reported it.
  struct DenyKey {
    uint32_t rule = 0;       // index into the compiled rules
    int32_t jail_slot = -1;  // jail targets
    int64_t pid = -1;        // process targets
    friend bool operator==(const DenyKey&, const DenyKey&) = default;
  };

  void RouteSampledDenies(const racct::Snapshot& snap,
                          const engine::EvaluationResult& result, bool recompiled);
  void Worker();
  void DeliverSignal(const QueuedSignal& q);
  void EnforceSampledDenies(const std::vector<platform::SampledDeny>& denies);

  RuleDatabase& rules_;
  platform::LimitEnforcer& enforcer_;
  engine::EventStream& events_;
  metrics::EngineHealthRecorder& health_;
  TickRouterOptions options_;
  std::unique_ptr<engine::Engine> engine_;
  std::atomic<uint64_t> throttles_ignored_{0};
  std::atomic<uint64_t> left_to_kernel_{0};

  // Sampler-thread state: the snapshot the engine was compiled from, and
  // the sampled denies last handed to the worker.
  std::shared_ptr<const RuleSnapshot> compiled_;
  std::vector<DenyKey> denies_now_, denies_sent_;
  std::shared_ptr<const racct::SlowData> denies_slow_;
  std::shared_ptr<const racct::JailTable> denies_jails_;

  // The worker's queue.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<QueuedSignal> signals_;
  // Only the latest set matters: SetSampledDenies is level-triggered.
  std::optional<std::vector<platform::SampledDeny>> pending_denies_;
  bool stop_ = false;
  bool stopped_ = false;
  std::thread worker_;
};

}  // namespace jailwarden::service
