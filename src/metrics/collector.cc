#include "jailwarden/metrics/collector.h"

#include <chrono>
#include <utility>

#include "jailwarden/version.h"
#include "metrics/process_metrics.h"
#include "metrics/prometheus_adapter.h"
#include "metrics/text_format.h"

// The render pipeline and the collectables; each group of families is in
// its own file: collector_jails.cc (usage, peaks, jail states),
// collector_rules.cc (limits, fidelity, rule counters), collector_health.cc
// (sampler and engine health).

namespace jailwarden::metrics {

using text::AppendFamilyHeader;
using text::AppendLabel;
using text::SampleSeconds;
using text::SampleUint;

MetricsCollector::MetricsCollector(MetricsSources sources, MetricsOptions options)
    : sources_(std::move(sources)), options_(std::move(options)) {}

MetricsCollector::~MetricsCollector() = default;

std::string MetricsCollector::RenderText() {
  std::string out;
  RenderInto(out);
  return out;
}

void MetricsCollector::AddCollectable(std::weak_ptr<prometheus::Collectable> collectable) {
  std::lock_guard<std::mutex> lock(mu_);
  collectables_.push_back(std::move(collectable));
}

void MetricsCollector::RenderInto(std::string& out) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto started = std::chrono::steady_clock::now();
  out.clear();
  ++render_epoch_;

  AppendFamilyHeader(out, "jailwarden_build_info",
                     "Build of the running jailwarden; the value is always 1.", "gauge");
  out.append("jailwarden_build_info{");
  AppendLabel(out, "version", options_.version.empty() ? std::string_view(kVersion)
                                                       : std::string_view(options_.version));
  out.push_back(',');
  AppendLabel(out, "backend", options_.backend);
  out.append("} 1\n");

  std::shared_ptr<const racct::Snapshot> snap;
  if (sources_.snapshot) {
    snap = sources_.snapshot();
  }
  if (snap != nullptr && snap->tick == nullptr) {
    snap = nullptr;  // not a published tick; nothing to read
  }
  RenderJailFamilies(out, snap.get());
  if (snap != nullptr && options_.export_peaks) {
    RenderPeaks(out, *snap);
  }
  RenderEnforcements(out);
  RenderJailStatus(out);
  RenderRuleStats(out);
  RenderSamplerHealth(out, snap.get());
  RenderEngineHealth(out);
  RenderLimitDrift(out);
  RenderReloads(out);
  if (options_.export_process) {
    AppendProcessFamilies(out);
  }

  AppendFamilyHeader(out, "jailwarden_metrics_render_duration_seconds",
                     "Time the previous /metrics render took, in seconds.", "gauge");
  SampleSeconds(out, "jailwarden_metrics_render_duration_seconds", "",
                absl::FromChrono(last_render_));
  AppendFamilyHeader(out, "jailwarden_metrics_renders_total",
                     "Renders of /metrics before this one.", "counter");
  SampleUint(out, "jailwarden_metrics_renders_total", "", renders_);

  // Other components' prometheus-cpp metrics, after ours.
  std::size_t live = 0;
  for (auto& weak : collectables_) {
    if (auto collectable = weak.lock()) {
      AppendCollectableText(*collectable, out);
      collectables_[live++] = std::move(weak);
    }
  }
  collectables_.resize(live);

  ++renders_;
  last_render_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now() - started);
}

}  // namespace jailwarden::metrics
