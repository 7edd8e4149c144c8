#include "jailwarden/metrics/collector.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "jailwarden/metrics/names.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/version.h"
#include "metrics/prometheus_adapter.h"
#include "metrics/text_format.h"

namespace jailwarden::metrics {
namespace {

using text::AppendFamilyHeader;
using text::AppendFixed;
using text::AppendInt;
using text::AppendLabel;
using text::AppendSeconds;
using text::AppendUint;

constexpr int kMillionsDecimals = 6;

void AppendKernelValue(std::string& out, int64_t value, bool in_millions) {
  if (in_millions) {
    AppendFixed(out, value, kMillionsDecimals);
  } else {
    AppendInt(out, value);
  }
}

// One sample line: <name>{<labels>} <value>\n, the value already appended by
// the caller between Begin and End.
void BeginSample(std::string& out, std::string_view name, std::string_view labels) {
  out.append(name);
  if (!labels.empty()) {
    out.push_back('{');
    out.append(labels);
    out.push_back('}');
  }
  out.push_back(' ');
}

void SampleUint(std::string& out, std::string_view name, std::string_view labels,
                uint64_t value) {
  BeginSample(out, name, labels);
  AppendUint(out, value);
  out.push_back('\n');
}

void SampleSeconds(std::string& out, std::string_view name, std::string_view labels,
                   absl::Duration value) {
  BeginSample(out, name, labels);
  AppendSeconds(out, value);
  out.push_back('\n');
}

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

// platform::FidelityName lives in jw_platform, which metrics does not link
// (architecture §3: metrics uses racct and engine); same spelling.
std::string_view FidelityLabel(platform::Fidelity fidelity) {
  switch (fidelity) {
    case platform::Fidelity::kExact:
      return "exact";
    case platform::Fidelity::kApproximate:
      return "approximate";
    case platform::Fidelity::kSampled:
      return "sampled";
    case platform::Fidelity::kUnsupported:
      return "unsupported";
  }
  return "unknown";
}

bool IsPresent(const racct::TickData& tick, std::size_t slot, std::size_t r) {
  // A tick without presence masks (tests, old data) counts as all present.
  return tick.present.size() != tick.usage.size() || tick.present[slot].test(r);
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

void MetricsCollector::RefreshJailLabels(
    const std::shared_ptr<const racct::JailTable>& table) {
  // Holding the table keeps its address from being reused by a later table
  // while the address keys the cache.
  if (labels_table_hold_ == table && jail_labels_.size() == table->size()) {
    return;
  }
  labels_table_hold_ = table;
  labels_table_ = table.get();
  jail_labels_.resize(table->size());
  for (std::size_t s = 0; s < table->size(); ++s) {
    jail_labels_[s].clear();
    AppendLabel(jail_labels_[s], "name", table->jails[s].name);
  }
}

void MetricsCollector::RenderJailFamilies(std::string& out, const racct::Snapshot* snap) {
  AppendFamilyHeader(out, "jail_num", "Number of jails the sampler reads.", "gauge");
  SampleUint(out, "jail_num", "", snap == nullptr ? 0 : snap->jail_count());
  if (snap == nullptr) {
    return;
  }
  const racct::TickData& tick = *snap->tick;
  RefreshJailLabels(tick.jails);
  const std::size_t jails = std::min(tick.usage.size(), jail_labels_.size());

  AppendFamilyHeader(out, "jail_id", "Jail ID (JID) of the jail, as the value.", "gauge");
  for (std::size_t s = 0; s < jails; ++s) {
    BeginSample(out, "jail_id", jail_labels_[s]);
    AppendInt(out, tick.jails->jails[s].jid);
    out.push_back('\n');
  }

  for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
    const UsageFamily& family = UsageFamilyOf(rctl::ResourceAt(r));
    AppendFamilyHeader(out, family.name, family.help, family.type);
    for (std::size_t s = 0; s < jails; ++s) {
      if (!IsPresent(tick, s, r)) {
        continue;
      }
      BeginSample(out, family.name, jail_labels_[s]);
      AppendKernelValue(out, tick.usage[s][r], family.in_millions);
      out.push_back('\n');
    }
  }

  AppendFamilyHeader(out, "jailwarden_jail_usage_stale",
                     "1 if the jail's last read failed and its usage repeats the last good "
                     "reading.",
                     "gauge");
  for (std::size_t s = 0; s < jails; ++s) {
    BeginSample(out, "jailwarden_jail_usage_stale", jail_labels_[s]);
    out.push_back(s < tick.stale.size() && tick.stale[s] != 0 ? '1' : '0');
    out.push_back('\n');
  }
}

void MetricsCollector::RenderPeaks(std::string& out, const racct::Snapshot& snap) {
  const racct::Peaks& peaks = peak_cursor_.Read(snap);
  AppendFamilyHeader(out, "jailwarden_jail_usage_peak",
                     "Highest usage since the previous scrape (sampler history), in the "
                     "usage family's unit.",
                     "gauge");
  if (peaks.jails == nullptr) {
    return;
  }
  const racct::JailTable& table = *peaks.jails;
  const bool cached = &table == labels_table_;
  std::string& labels = scratch_key_;
  for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
    const rctl::Resource resource = rctl::ResourceAt(r);
    if (resource == rctl::Resource::kCputime || resource == rctl::Resource::kWallclock) {
      continue;  // counters: the peak is the latest value
    }
    const UsageFamily& family = UsageFamilyOf(resource);
    const std::size_t n = std::min(table.size(), peaks.peak.size());
    for (std::size_t s = 0; s < n; ++s) {
      if (table.jails[s].name.empty()) {
        continue;
      }
      if ((cached && !IsPresent(*snap.tick, s, r)) ||
          peaks.peak[s][r] == std::numeric_limits<int64_t>::min()) {
        continue;  // not read, or no tick of this jail in the range
      }
      labels.clear();
      if (cached) {
        labels.append(jail_labels_[s]);
      } else {
        AppendLabel(labels, "name", table.jails[s].name);
      }
      labels.append(",resource=\"");
      labels.append(rctl::ResourceName(resource));
      labels.push_back('"');
      BeginSample(out, "jailwarden_jail_usage_peak", labels);
      AppendKernelValue(out, peaks.peak[s][r], family.in_millions);
      out.push_back('\n');
    }
  }
}

void MetricsCollector::RenderEnforcements(std::string& out) {
  if (!sources_.enforcements) {
    return;
  }
  std::shared_ptr<const std::vector<platform::Enforcement>> list = sources_.enforcements();
  if (!enforcements_rendered_ || list != enforcements_) {
    enforcements_ = list;
    enforcements_rendered_ = true;
    limits_text_.clear();
    fidelity_text_.clear();
    std::vector<std::string> seen;
    std::string labels;
    if (list != nullptr) {
      for (const platform::Enforcement& e : *list) {
        const rctl::Rule& rule = e.rule;
        const std::string rule_text = rctl::FormatRule(rule);
        if (std::find(seen.begin(), seen.end(), rule_text) != seen.end()) {
          continue;
        }
        seen.push_back(rule_text);
        labels.clear();
        AppendLabel(labels, "rule", rule_text);
        labels.push_back(',');
        AppendLabel(labels, "fidelity", FidelityLabel(e.fidelity));
        labels.push_back(',');
        AppendLabel(labels, "mechanism", e.mechanism);
        labels.push_back(',');
        AppendLabel(labels, "detail", e.detail);
        BeginSample(fidelity_text_, "jailwarden_rule_fidelity", labels);
        fidelity_text_.append("1\n");

        if (rule.subject != rctl::SubjectType::kJail || !rule.resource.has_value() ||
            rule.amount == rctl::kAmountUndefined) {
          continue;
        }
        labels.clear();
        AppendLabel(labels, "name", rule.subject_id);
        labels.push_back(',');
        AppendLabel(labels, "resource", rctl::ResourceName(*rule.resource));
        labels.push_back(',');
        AppendLabel(labels, "action", rctl::ActionName(rule.action));
        labels.push_back(',');
        AppendLabel(labels, "per",
                    rctl::SubjectTypeName(rule.per == rctl::SubjectType::kUndefined
                                              ? rule.subject
                                              : rule.per));
        BeginSample(limits_text_, "jailwarden_jail_limit", labels);
        AppendKernelValue(limits_text_, rule.amount, rctl::IsInMillions(*rule.resource));
        limits_text_.push_back('\n');
      }
    }
  }
  AppendFamilyHeader(out, "jailwarden_jail_limit",
                     "Configured RCTL amount of a jail rule, in the unit of the resource's "
                     "usage family.",
                     "gauge");
  out.append(limits_text_);
  AppendFamilyHeader(out, "jailwarden_rule_fidelity",
                     "How faithfully this host's backend enforces the rule; the value is "
                     "always 1.",
                     "gauge");
  out.append(fidelity_text_);
}

void MetricsCollector::RenderJailStatus(std::string& out) {
  if (!sources_.jails) {
    return;
  }
  const std::vector<JailStatus> jails = sources_.jails();
  AppendFamilyHeader(out, "jailwarden_jail_state",
                     "1 for the jail's current lifecycle state (one series per jail).",
                     "gauge");
  for (const JailStatus& j : jails) {
    out.append("jailwarden_jail_state{");
    AppendLabel(out, "name", j.name);
    out.push_back(',');
    AppendLabel(out, "state", j.state);
    out.append("} 1\n");
  }
  AppendFamilyHeader(out, "jailwarden_jail_expected_running",
                     "1 if the policy says the jail should be running now.", "gauge");
  for (const JailStatus& j : jails) {
    out.append("jailwarden_jail_expected_running{");
    AppendLabel(out, "name", j.name);
    out.append(j.expected_running ? "} 1\n" : "} 0\n");
  }
  AppendFamilyHeader(out, "jailwarden_jail_start_time_seconds",
                     "Unix time the jail last started, in seconds.", "gauge");
  for (const JailStatus& j : jails) {
    if (!j.start_time.has_value()) {
      continue;
    }
    out.append("jailwarden_jail_start_time_seconds{");
    AppendLabel(out, "name", j.name);
    out.append("} ");
    text::AppendUnixSeconds(out, *j.start_time);
    out.push_back('\n');
  }
}

void MetricsCollector::RenderRuleStats(std::string& out) {
  if (!sources_.rule_stats) {
    return;
  }
  const std::vector<engine::RuleTargetStats> stats = sources_.rule_stats();
  std::string& key = scratch_key_;
  for (const engine::RuleTargetStats& st : stats) {
    if (!st.rule.resource.has_value()) {
      continue;
    }
    const rctl::Resource resource = *st.rule.resource;
    // Per-target delta of the engine's counters; a counter that went down
    // (the engine forgot the pair, e.g. after its rule was replaced) counts
    // from zero again.
    key.clear();
    key.append(st.rule_text);
    key.push_back('\x1f');
    key.append(st.jail);
    key.push_back('\x1f');
    AppendInt(key, st.target.kind == engine::TargetKind::kProcess ? st.target.pid : -1);
    TargetCounters& tc = targets_[key];
    const uint64_t d_matched = st.matched >= tc.matched ? st.matched - tc.matched : st.matched;
    const uint64_t d_over =
        st.evaluations_over >= tc.over ? st.evaluations_over - tc.over : st.evaluations_over;
    tc.matched = st.matched;
    tc.over = st.evaluations_over;
    tc.epoch = render_epoch_;

    key.resize(st.rule_text.size() + 1 + st.jail.size());
    auto [it, inserted] = rules_.try_emplace(key);
    RuleAggregate& agg = it->second;
    if (inserted) {
      agg.short_labels.clear();
      AppendLabel(agg.short_labels, "rule", st.rule_text);
      agg.short_labels.push_back(',');
      AppendLabel(agg.short_labels, "jail", st.jail);
      agg.labels = agg.short_labels;
      agg.labels.push_back(',');
      AppendLabel(agg.labels, "resource", rctl::ResourceName(resource));
      agg.labels.push_back(',');
      AppendLabel(agg.labels, "action", rctl::ActionName(st.rule.action));
      agg.in_millions = rctl::IsInMillions(resource);
      const bool pcpu = resource == rctl::Resource::kPcpu;
      agg.deny = st.rule.action == rctl::Action::kDeny && !pcpu;
      // A pcpu deny is enforced by throttling (freebsd-rctl.md §7.6).
      agg.throttle = st.rule.action == rctl::Action::kThrottle ||
                     (st.rule.action == rctl::Action::kDeny && pcpu);
    }
    if (agg.epoch != render_epoch_) {
      agg.epoch = render_epoch_;
      agg.headroom = std::numeric_limits<int64_t>::max();
    }
    agg.matches += d_matched;
    if (agg.deny) {
      agg.denials += d_over;
    }
    if (agg.throttle) {
      agg.throttles += d_over;
    }
    agg.headroom = std::min(agg.headroom, st.headroom);
  }
  // Forget pairs and series the engine no longer has.
  std::erase_if(targets_, [&](const auto& kv) { return kv.second.epoch != render_epoch_; });
  std::erase_if(rules_, [&](const auto& kv) { return kv.second.epoch != render_epoch_; });

  AppendFamilyHeader(out, "jailwarden_rule_matches_total",
                     "Exceedance episodes (usage went from at or under the amount to over "
                     "it) of a rule, per jail.",
                     "counter");
  for (const auto& [k, agg] : rules_) {
    SampleUint(out, "jailwarden_rule_matches_total", agg.labels, agg.matches);
  }
  AppendFamilyHeader(out, "jailwarden_rule_denials_total",
                     "Engine evaluations at which usage was over a deny rule's amount, per "
                     "jail (the kernel refuses further charges meanwhile).",
                     "counter");
  for (const auto& [k, agg] : rules_) {
    if (agg.deny) {
      SampleUint(out, "jailwarden_rule_denials_total", agg.short_labels, agg.denials);
    }
  }
  AppendFamilyHeader(out, "jailwarden_rule_throttles_total",
                     "Engine evaluations that throttled a jail's processes for a throttle "
                     "rule or a pcpu deny rule, per jail.",
                     "counter");
  for (const auto& [k, agg] : rules_) {
    if (agg.throttle) {
      SampleUint(out, "jailwarden_rule_throttles_total", agg.short_labels, agg.throttles);
    }
  }
  AppendFamilyHeader(out, "jailwarden_rule_headroom",
                     "Amount minus usage at the last evaluation (negative when over), in the "
                     "resource's usage unit; the tightest target of the jail.",
                     "gauge");
  for (const auto& [k, agg] : rules_) {
    BeginSample(out, "jailwarden_rule_headroom", agg.labels);
    AppendKernelValue(out, agg.headroom, agg.in_millions);
    out.push_back('\n');
  }
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

}  // namespace jailwarden::metrics
