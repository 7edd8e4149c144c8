// Health families of the sampler and the rule engine, and the recorder the
// engine's evaluations feed.

#include "jailwarden/metrics/collector.h"
#include "metrics/text_format.h"

namespace jailwarden::metrics {
namespace {

using text::AppendFamilyHeader;
using text::AppendUint;
using text::SampleSeconds;
using text::SampleUint;

// The sampler's read-error reasons as label values (platform::ReadErrorReason).
std::string_view ReasonName(platform::ReadErrorReason reason) {
  switch (reason) {
    case platform::ReadErrorReason::kVanished:
      return "vanished";
    case platform::ReadErrorReason::kPermission:
      return "permission";
    case platform::ReadErrorReason::kParse:
      return "parse";
    case platform::ReadErrorReason::kIo:
      return "io";
    case platform::ReadErrorReason::kUnsupported:
      return "unsupported";
  }
  return "unknown";
}

}  // namespace

void EngineHealthRecorder::Record(absl::Duration evaluation,
                                  const engine::EvaluationResult& result) {
  const int64_t ns = absl::ToInt64Nanoseconds(evaluation);
  evaluations_.fetch_add(1, std::memory_order_relaxed);
  decisions_.fetch_add(result.decisions.size(), std::memory_order_relaxed);
  if (result.rebound) {
    rebinds_.fetch_add(1, std::memory_order_relaxed);
  }
  checks_last_.store(result.checks, std::memory_order_relaxed);
  total_ns_.fetch_add(ns, std::memory_order_relaxed);
  last_ns_.store(ns, std::memory_order_relaxed);
  int64_t max = max_ns_.load(std::memory_order_relaxed);
  while (ns > max && !max_ns_.compare_exchange_weak(max, ns, std::memory_order_relaxed)) {
  }
}

void EngineHealthRecorder::RecordCompile(const engine::CompileInfo& info) {
  rules_.store(info.rules, std::memory_order_relaxed);
  unsupported_.store(info.unsupported, std::memory_order_relaxed);
}

EngineHealth EngineHealthRecorder::Read() const {
  EngineHealth h;
  h.evaluations = evaluations_.load(std::memory_order_relaxed);
  h.decisions = decisions_.load(std::memory_order_relaxed);
  h.rebinds = rebinds_.load(std::memory_order_relaxed);
  h.checks_last = checks_last_.load(std::memory_order_relaxed);
  h.total_duration = absl::Nanoseconds(total_ns_.load(std::memory_order_relaxed));
  h.last_duration = absl::Nanoseconds(last_ns_.load(std::memory_order_relaxed));
  h.max_duration = absl::Nanoseconds(max_ns_.load(std::memory_order_relaxed));
  h.rules = rules_.load(std::memory_order_relaxed);
  h.unsupported_rules = unsupported_.load(std::memory_order_relaxed);
  return h;
}

void MetricsCollector::RenderSamplerHealth(std::string& out, const racct::Snapshot* snap) {
  if (snap == nullptr) {
    return;
  }
  const racct::SamplerHealth& h = snap->health;
  AppendFamilyHeader(out, "jailwarden_sampler_ticks_total", "Sampler ticks completed.",
                     "counter");
  SampleUint(out, "jailwarden_sampler_ticks_total", "", h.ticks);
  AppendFamilyHeader(out, "jailwarden_sampler_slow_ticks_total",
                     "Sampler ticks that also ran the slow tier (jail list, process scan).",
                     "counter");
  SampleUint(out, "jailwarden_sampler_slow_ticks_total", "", h.slow_ticks);
  AppendFamilyHeader(out, "jailwarden_sampler_tick_duration_seconds",
                     "Duration of sampler ticks in seconds (sum is mean x count).", "summary");
  SampleSeconds(out, "jailwarden_sampler_tick_duration_seconds_sum", "",
                h.avg_tick_duration * static_cast<double>(h.ticks));
  SampleUint(out, "jailwarden_sampler_tick_duration_seconds_count", "", h.ticks);
  AppendFamilyHeader(out, "jailwarden_sampler_tick_seconds",
                     "Sampler ticks by duration in seconds.", "histogram");
  uint64_t below = 0;
  for (std::size_t i = 0; i < h.tick_buckets.size(); ++i) {
    below += h.tick_buckets[i];
    out.append("jailwarden_sampler_tick_seconds_bucket{le=\"");
    if (i < racct::kTickBucketBoundsUs.size()) {
      text::AppendFixed(out, racct::kTickBucketBoundsUs[i], 6);
    } else {
      out.append("+Inf");
    }
    out.append("\"} ");
    AppendUint(out, below);
    out.push_back('\n');
  }
  SampleSeconds(out, "jailwarden_sampler_tick_seconds_sum", "",
                h.avg_tick_duration * static_cast<double>(h.ticks));
  SampleUint(out, "jailwarden_sampler_tick_seconds_count", "", below);
  AppendFamilyHeader(out, "jailwarden_sampler_tick_duration_max_seconds",
                     "Longest sampler tick since start, in seconds.", "gauge");
  SampleSeconds(out, "jailwarden_sampler_tick_duration_max_seconds", "", h.max_tick_duration);
  AppendFamilyHeader(out, "jailwarden_sampler_tick_duration_last_seconds",
                     "Duration of the latest sampler tick, in seconds.", "gauge");
  SampleSeconds(out, "jailwarden_sampler_tick_duration_last_seconds", "",
                h.last_tick_duration);
  AppendFamilyHeader(out, "jailwarden_sampler_slow_tier_duration_last_seconds",
                     "Time the slow tier took in its latest tick, in seconds.", "gauge");
  SampleSeconds(out, "jailwarden_sampler_slow_tier_duration_last_seconds", "",
                h.last_slow_duration);
  AppendFamilyHeader(out, "jailwarden_sampler_overruns_total",
                     "Tick deadlines missed because a tick ran past the next one.", "counter");
  SampleUint(out, "jailwarden_sampler_overruns_total", "", h.overruns);
  AppendFamilyHeader(out, "jailwarden_sampler_read_errors_total",
                     "Failed usage reads, by reason.", "counter");
  for (std::size_t i = 0; i < platform::kReadErrorReasonCount; ++i) {
    out.append("jailwarden_sampler_read_errors_total{reason=\"");
    out.append(ReasonName(static_cast<platform::ReadErrorReason>(i)));
    out.append("\"} ");
    AppendUint(out, h.read_errors[i]);
    out.push_back('\n');
  }
  AppendFamilyHeader(out, "jailwarden_sampler_list_errors_total",
                     "Failed jail listings (slow tier).", "counter");
  SampleUint(out, "jailwarden_sampler_list_errors_total", "", h.list_errors);
  AppendFamilyHeader(out, "jailwarden_sampler_jails_appeared_total",
                     "Jails the sampler started reading.", "counter");
  SampleUint(out, "jailwarden_sampler_jails_appeared_total", "", h.jails_appeared);
  AppendFamilyHeader(out, "jailwarden_sampler_jails_vanished_total",
                     "Jails the sampler stopped reading because they went away.", "counter");
  SampleUint(out, "jailwarden_sampler_jails_vanished_total", "", h.jails_vanished);
  // Snapshot::time is on the sampler's monotonic clock, not the wall clock,
  // so the age is what can be exported.
  Clock& clock = options_.clock != nullptr ? *options_.clock : MonotonicClock::Get();
  AppendFamilyHeader(out, "jailwarden_sampler_last_tick_age_seconds",
                     "Seconds since the latest published sampler tick started.", "gauge");
  SampleSeconds(out, "jailwarden_sampler_last_tick_age_seconds", "", clock.Now() - snap->time);
}

void MetricsCollector::RenderEngineHealth(std::string& out) {
  if (sources_.api_rejected) {
    AppendFamilyHeader(out, "jailwarden_api_rejected_total",
                       "API and /metrics connections or requests turned away, by reason.",
                       "counter");
    for (const auto& [reason, count] : sources_.api_rejected()) {
      out.append("jailwarden_api_rejected_total{reason=\"");
      out.append(reason);
      out.append("\"} ");
      out.append(std::to_string(count));
      out.push_back('\n');
    }
  }
  if (!sources_.engine_health) {
    return;
  }
  const EngineHealth h = sources_.engine_health();
  AppendFamilyHeader(out, "jailwarden_engine_evaluation_duration_seconds",
                     "Duration of rule engine evaluations (one per tick), in seconds.",
                     "summary");
  SampleSeconds(out, "jailwarden_engine_evaluation_duration_seconds_sum", "",
                h.total_duration);
  SampleUint(out, "jailwarden_engine_evaluation_duration_seconds_count", "", h.evaluations);
  AppendFamilyHeader(out, "jailwarden_engine_evaluation_duration_max_seconds",
                     "Longest rule engine evaluation since start, in seconds.", "gauge");
  SampleSeconds(out, "jailwarden_engine_evaluation_duration_max_seconds", "", h.max_duration);
  AppendFamilyHeader(out, "jailwarden_engine_evaluation_duration_last_seconds",
                     "Duration of the latest rule engine evaluation, in seconds.", "gauge");
  SampleSeconds(out, "jailwarden_engine_evaluation_duration_last_seconds", "",
                h.last_duration);
  AppendFamilyHeader(out, "jailwarden_engine_decisions_total",
                     "Decisions (deny at or over, log, devctl, signal, throttle, ...) the "
                     "engine returned.",
                     "counter");
  SampleUint(out, "jailwarden_engine_decisions_total", "", h.decisions);
  AppendFamilyHeader(out, "jailwarden_engine_rebinds_total",
                     "Evaluations that re-bound rules because jails or processes changed.",
                     "counter");
  SampleUint(out, "jailwarden_engine_rebinds_total", "", h.rebinds);
  AppendFamilyHeader(out, "jailwarden_engine_checks",
                     "(rule, target) pairs evaluated in the latest evaluation.", "gauge");
  SampleUint(out, "jailwarden_engine_checks", "", h.checks_last);
  AppendFamilyHeader(out, "jailwarden_engine_rules", "Rules compiled into the engine.",
                     "gauge");
  SampleUint(out, "jailwarden_engine_rules", "", h.rules);
  AppendFamilyHeader(out, "jailwarden_engine_unsupported_rules",
                     "Compiled rules no backend can evaluate (loginclass subject or per).",
                     "gauge");
  SampleUint(out, "jailwarden_engine_unsupported_rules", "", h.unsupported_rules);
}

void MetricsCollector::RenderReloads(std::string& out) {
  if (!sources_.reloads) {
    return;
  }
  const ReloadHealth h = sources_.reloads();
  AppendFamilyHeader(out, "jailwarden_policy_generation",
                     "Policy generation: 1 at start, one more per successful reload.", "gauge");
  SampleUint(out, "jailwarden_policy_generation", "", h.generation);
  AppendFamilyHeader(out, "jailwarden_config_last_reload_successful",
                     "1 if the last policy reload succeeded (or none was tried), else 0.",
                     "gauge");
  SampleUint(out, "jailwarden_config_last_reload_successful", "", h.last_ok ? 1 : 0);
  AppendFamilyHeader(out, "jailwarden_config_last_reload_timestamp_seconds",
                     "Unix time of the last policy reload attempt, in seconds.", "gauge");
  if (h.last_attempt.has_value()) {
    text::BeginSample(out, "jailwarden_config_last_reload_timestamp_seconds", "");
    text::AppendUnixSeconds(out, *h.last_attempt);
    out.push_back('\n');
  }
}

void MetricsCollector::RenderLimitDrift(std::string& out) {
  if (!sources_.limit_drift) {
    return;
  }
  AppendFamilyHeader(out, "jailwarden_limit_drift_total",
                     "Kernel-side limits found changed (e.g. lifted from inside the jail) and "
                     "written back, per jail and resource.",
                     "counter");
  std::string labels;
  for (const LimitDriftCount& c : sources_.limit_drift()) {
    labels.clear();
    text::AppendLabel(labels, "name", c.name);
    labels += ',';
    text::AppendLabel(labels, "resource", c.resource);
    SampleUint(out, "jailwarden_limit_drift_total", labels, c.count);
  }
}

}  // namespace jailwarden::metrics
