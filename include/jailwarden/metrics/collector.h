#pragma once

// metrics::MetricsCollector: renders Prometheus' classic text exposition
// (format 0.0.4) for /metrics from what the daemon already holds: the
// sampler's latest racct::Snapshot, the engine's rule statistics, the jail
// layer's states and the backend's rule fidelity
// (../shared/design/architecture.md §2, §4; every family is listed in
// dashboards/README.md).
//
// A render only reads ready-made, immutable data through the getters in
// MetricsSources: it never waits on the sampler or the kernel. The text is
// written straight from the snapshot into a caller-owned buffer (no
// prometheus::Family objects per series), so a render of 10,000 jails
// allocates nothing once the buffer and the per-jail label cache are warm
// (bench/metrics_bench.cc).
//
// Names: the 25 usage families and jail_id/jail_num keep jail_exporter's
// names and its `name` label (../shared/reference/peers.md §1.2); everything
// added is prefixed `jailwarden_`. Values are exact decimal renderings of the
// kernel's integers: cputime and wallclock are fractional seconds (µs
// resolution; jail_exporter rounds down to whole seconds) and pcpu is percent
// of one CPU with six decimals.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/time/time.h"
#include "jailwarden/base/clock.h"
#include "jailwarden/engine/engine.h"
#include "jailwarden/metrics/names.h"
#include "jailwarden/platform/jail_runtime.h"
#include "jailwarden/platform/limit_enforcer.h"
#include "jailwarden/racct/snapshot.h"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace jailwarden::metrics {

// One jail as the jail layer knows it (configured jails, running or not).
struct JailStatus {
  std::string name;
  int64_t jid = -1;            // -1 when it has none
  std::string state;           // jail::Manager's state name: "running", ...
  std::optional<absl::Time> start_time;  // when it last entered running
  bool expected_running = false;  // policy says it should run now
  // The policy's rules for this jail that are not in force (drift: removed
  // at runtime, until the next apply).
  int64_t policy_drift = 0;
  // The supervised main process (`command:`, issue 17), for a running jail
  // that has one.
  struct Main {
    bool running = false;
    int64_t restarts = 0;
    int last_exit_code = -1;  // -1: none, or killed by a signal
    int last_exit_signal = 0;  // 0: none
  };
  std::optional<Main> main = std::nullopt;
  // Its policy healthcheck's verdict (service::HealthChecker): true when
  // healthy, false when starting or unhealthy; none without a check
  // (jailwarden_jail_healthy is then absent).
  std::optional<bool> healthy = std::nullopt;
  // Processes of the jail the kernel's OOM killer killed since the jail
  // started (cgroup memory.events oom_kill, v1 memory.oom_control),
  // sampled once a second; none where the backend cannot tell.
  std::optional<int64_t> oom_kills = std::nullopt;
  // Issue 13: what isolates the running jail (platform::JailRuntime::
  // Isolation); none where the backend does not report it.
  std::optional<platform::IsolationStatus> isolation = std::nullopt;
};

// Timing and counts of engine::Engine::Evaluate, as recorded by
// EngineHealthRecorder. Durations are wall time around Evaluate().
struct EngineHealth {
  uint64_t evaluations = 0;
  uint64_t decisions = 0;        // decisions returned, summed
  uint64_t rebinds = 0;          // evaluations that re-bound (jails changed)
  uint64_t checks_last = 0;      // (rule, target) pairs in the last one
  absl::Duration total_duration;
  absl::Duration last_duration;
  absl::Duration max_duration;
  uint64_t rules = 0;            // CompileInfo::rules of the last Compile
  uint64_t unsupported_rules = 0;
};

// What the policy reloads did (service::ReloadStatus, copied).
struct ReloadHealth {
  uint64_t generation = 1;  // 1 at start, +1 per successful reload
  std::optional<absl::Time> last_attempt;  // nullopt: never reloaded
  bool last_ok = true;
};

// Lock-free recorder the daemon's tick callback feeds right after
// Engine::Evaluate; Read() may run on any thread at any time.
class EngineHealthRecorder {
 public:
  void Record(absl::Duration evaluation, const engine::EvaluationResult& result);
  void RecordCompile(const engine::CompileInfo& info);
  EngineHealth Read() const;

 private:
  std::atomic<uint64_t> evaluations_{0};
  std::atomic<uint64_t> decisions_{0};
  std::atomic<uint64_t> rebinds_{0};
  std::atomic<uint64_t> checks_last_{0};
  std::atomic<int64_t> total_ns_{0};
  std::atomic<int64_t> last_ns_{0};
  std::atomic<int64_t> max_ns_{0};
  std::atomic<uint64_t> rules_{0};
  std::atomic<uint64_t> unsupported_{0};
};

// jailwarden_limit_drift_total: kernel-side limits of jail `name` found
// changed behind the enforcer's back and repaired (LimitEnforcer::
// CheckAndRepair), per rctl resource, since the daemon started.
struct LimitDriftCount {
  std::string name;      // jail
  std::string resource;  // rctl resource name
  uint64_t count = 0;
};

// Where a render reads from. Every getter is optional (an empty function
// leaves its families out) and is called once per render, under the
// collector's lock, on an HTTP server thread: it must return quickly and must
// not wait on the sampler (Sampler::Latest, Engine::Stats and an atomic
// shared_ptr load all qualify).
struct MetricsSources {
  // The latest snapshot (nullptr before the first tick: usage families are
  // then empty).
  std::function<std::shared_ptr<const racct::Snapshot>()> snapshot{};
  // Per (rule, target) statistics (engine::Engine::Stats()).
  std::function<std::vector<engine::RuleTargetStats>()> rule_stats{};
  // Every configured jail.
  std::function<std::vector<JailStatus>()> jails{};
  // The rules in force with their fidelity. Publish a new vector when the
  // rules change: the collector re-renders the limit and fidelity families
  // only when this pointer changes.
  std::function<std::shared_ptr<const std::vector<platform::Enforcement>>()>
      enforcements{};
  std::function<EngineHealth()> engine_health{};
  // Limit drift counters (the family is left out without it).
  std::function<std::vector<LimitDriftCount>()> limit_drift{};
  // jailwarden_api_rejected_total: (reason, count) pairs; unset: the
  // family is not exported.
  std::function<std::vector<std::pair<std::string, uint64_t>>()> api_rejected{};
  // Policy reloads (jailwarden_policy_generation and the
  // jailwarden_config_last_reload_* families, the dashboards' reload
  // annotation).
  std::function<ReloadHealth()> reloads{};
};

struct MetricsOptions {
  // jailwarden_build_info labels.
  std::string version{};  // default: jailwarden::kVersion
  std::string backend{};  // "linux", "freebsd", "fake", ...
  // Export jailwarden_jail_usage_peak (23 series per jail: every resource
  // but the cputime and wallclock counters).
  bool export_peaks = true;
  // Export the process_* self-metrics of the running process (CPU, memory,
  // file descriptors, start time; src/metrics/process_metrics.h).
  bool export_process = true;
  // The clock the sampler stamps ticks with (Snapshot::time is on it), for
  // jailwarden_sampler_last_tick_age_seconds. nullptr: MonotonicClock::Get().
  Clock* clock = nullptr;
};

// Renders /metrics. Thread-safe: renders are serialised by an internal
// mutex (the peak cursor and the counter accumulators are per collector),
// so two scrapes never interleave but neither ever waits on the sampler.
//
// Peaks: jailwarden_jail_usage_peak covers the ticks since the previous
// render (racct::PeakCursor). With two Prometheus servers scraping the same
// collector each sees the peak since the other's scrape; give each its own
// collector (and path) if that matters. Only ticks still in the sampler's
// history count: keep server.history >= the scrape interval.
class MetricsCollector {
 public:
  explicit MetricsCollector(MetricsSources sources, MetricsOptions options = {});
  ~MetricsCollector();
  MetricsCollector(const MetricsCollector&) = delete;
  MetricsCollector& operator=(const MetricsCollector&) = delete;

  // Clears `out` and renders every family into it (capacity is kept, so
  // reusing one buffer makes renders allocation-free once warm).
  void RenderInto(std::string& out);
  // Convenience: RenderInto a fresh string.
  std::string RenderText();

  // Appends the text of a prometheus-cpp registry (or any Collectable) after
  // jailwarden's own families, for metrics other components keep with
  // prometheus-cpp (e.g. API request counters). Held weakly; family names
  // must not clash with the ones above. Thread-safe.
  void AddCollectable(std::weak_ptr<prometheus::Collectable> collectable);

  // Content-Type of RenderInto's output.
  static constexpr std::string_view kContentType =
      "text/plain; version=0.0.4; charset=utf-8";

 private:
  // Last engine counters seen for one (rule, target).
  struct TargetCounters {
    uint64_t matched = 0;
    uint64_t over = 0;
    uint64_t epoch = 0;  // render that last saw it
  };
  // One exported (rule, jail) series set.
  // Keyed by the rule's identity without its amount (RuleId), so a changed
  // amount continues the same series.
  struct RuleAggregate {
    std::string labels;  // rule="…",name="…",resource="…",action="…"
    std::string short_labels;  // rule="…",name="…"
    Unit unit = Unit::kCount;
    uint64_t matches = 0;
    uint64_t denials = 0;
    uint64_t throttles = 0;
    int64_t headroom = 0;      // kernel scale, minimum over targets
    bool in_millions = false;
    bool deny = false;
    bool throttle = false;
    uint64_t epoch = 0;
  };

  void RenderJailFamilies(std::string& out, const racct::Snapshot* snap);
  void RenderPeaks(std::string& out, const racct::Snapshot& snap);
  void RenderJailStatus(std::string& out);
  // jailwarden_jail_main_* (issue 17), from RenderJailStatus.
  static void RenderJailMain(std::string& out, const std::vector<JailStatus>& jails);
  // jailwarden_jail_isolation, _seccomp_*, _disk_quota_* (issue 13), from
  // RenderJailStatus.
  static void RenderJailIsolation(std::string& out, const std::vector<JailStatus>& jails);
  void RenderEnforcements(std::string& out);
  void RenderRuleStats(std::string& out);
  void RenderSamplerHealth(std::string& out, const racct::Snapshot* snap);
  void RenderEngineHealth(std::string& out);
  void RenderLimitDrift(std::string& out);
  void RenderReloads(std::string& out);
  void RefreshJailLabels(const std::shared_ptr<const racct::JailTable>& table);

  const MetricsSources sources_;
  const MetricsOptions options_;

  std::mutex mu_;
  racct::PeakCursor peak_cursor_;
  // `name="<escaped>"` per slot of the last jail table seen.
  const racct::JailTable* labels_table_ = nullptr;
  std::shared_ptr<const racct::JailTable> labels_table_hold_;
  std::vector<std::string> jail_labels_;
  // Limit and fidelity families, rendered when the enforcement list changes.
  std::shared_ptr<const std::vector<platform::Enforcement>> enforcements_;
  std::array<std::string, kUnits.size()> limits_text_;   // by Unit
  std::array<std::string, kUnits.size()> amounts_text_;  // by Unit
  std::string fidelity_text_;
  bool enforcements_rendered_ = false;
  // Monotonic rule counters aggregated per (rule, jail), fed by deltas of
  // each (rule, target)'s engine counters so a process target that exits
  // does not make the aggregate go backwards.
  std::unordered_map<std::string, TargetCounters> targets_;
  std::map<std::string, RuleAggregate> rules_;
  uint64_t render_epoch_ = 0;
  std::string scratch_key_;
  std::chrono::nanoseconds last_render_{0};
  uint64_t renders_ = 0;
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables_;
};

}  // namespace jailwarden::metrics
