// The table of every family /metrics has, with its type and unit, checked
// against a live render of the real collector fed with complete data
// (full_fixture.h): every family present with samples, nothing unlisted,
// types as listed, names following the unit rules (dashboards/README.md,
// "Label and unit rules"), the jail label always `name`, no prose in labels.

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/metrics/collector.h"
#include "jailwarden/metrics/names.h"
#include "metrics/full_fixture.h"

namespace jailwarden::metrics {
namespace {

struct FamilyRow {
  std::string_view name;
  std::string_view type;  // "gauge", "counter", "summary", "histogram"
  Unit unit;
  // jail_exporter's names, kept as they are for existing dashboards: exempt
  // from the suffix rule (jail_readbps is bytes per second, jail_pcpu_used
  // percent).
  bool jail_exporter = false;
};

constexpr Unit kC = Unit::kCount;
constexpr Unit kB = Unit::kBytes;
constexpr Unit kS = Unit::kSeconds;
constexpr Unit kP = Unit::kPercent;
constexpr Unit kBps = Unit::kBytesPerSecond;
constexpr Unit kOps = Unit::kOpsPerSecond;

// clang-format off
const FamilyRow kFamilies[] = {
    // jail_exporter's 27 families, label `name`.
    {"jail_num", "gauge", kC, true},
    {"jail_id", "gauge", kC, true},
    {"jail_cputime_seconds_total", "counter", kS, true},
    {"jail_datasize_bytes", "gauge", kB, true},
    {"jail_stacksize_bytes", "gauge", kB, true},
    {"jail_coredumpsize_bytes", "gauge", kB, true},
    {"jail_memoryuse_bytes", "gauge", kB, true},
    {"jail_memorylocked_bytes", "gauge", kB, true},
    {"jail_maxproc", "gauge", kC, true},
    {"jail_openfiles", "gauge", kC, true},
    {"jail_vmemoryuse_bytes", "gauge", kB, true},
    {"jail_pseudoterminals", "gauge", kC, true},
    {"jail_swapuse_bytes", "gauge", kB, true},
    {"jail_nthr", "gauge", kC, true},
    {"jail_msgqqueued", "gauge", kC, true},
    {"jail_msgqsize_bytes", "gauge", kB, true},
    {"jail_nmsgq", "gauge", kC, true},
    {"jail_nsem", "gauge", kC, true},
    {"jail_nsemop", "gauge", kC, true},
    {"jail_nshm", "gauge", kC, true},
    {"jail_shmsize_bytes", "gauge", kB, true},
    {"jail_wallclock_seconds_total", "counter", kS, true},
    {"jail_pcpu_used", "gauge", kP, true},
    {"jail_readbps", "gauge", kBps, true},
    {"jail_writebps", "gauge", kBps, true},
    {"jail_readiops", "gauge", kOps, true},
    {"jail_writeiops", "gauge", kOps, true},
    // Counters beside jail_exporter's I/O gauges (Linux backends).
    {"jail_read_bytes_total", "counter", kB},
    {"jail_write_bytes_total", "counter", kB},
    {"jail_read_ops_total", "counter", kC},
    {"jail_write_ops_total", "counter", kC},
    // jailwarden's own.
    {"jailwarden_build_info", "gauge", kC},
    {"jailwarden_jail_usage_stale", "gauge", kC},
    {"jailwarden_jail_usage_peak", "gauge", kC},
    {"jailwarden_jail_usage_peak_bytes", "gauge", kB},
    {"jailwarden_jail_usage_peak_percent", "gauge", kP},
    {"jailwarden_jail_usage_peak_bytes_per_second", "gauge", kBps},
    {"jailwarden_jail_usage_peak_ops_per_second", "gauge", kOps},
    {"jailwarden_jail_limit", "gauge", kC},
    {"jailwarden_jail_limit_bytes", "gauge", kB},
    {"jailwarden_jail_limit_seconds", "gauge", kS},
    {"jailwarden_jail_limit_percent", "gauge", kP},
    {"jailwarden_jail_limit_bytes_per_second", "gauge", kBps},
    {"jailwarden_jail_limit_ops_per_second", "gauge", kOps},
    {"jailwarden_rule_amount", "gauge", kC},
    {"jailwarden_rule_amount_bytes", "gauge", kB},
    {"jailwarden_rule_amount_seconds", "gauge", kS},
    {"jailwarden_rule_amount_percent", "gauge", kP},
    {"jailwarden_rule_amount_bytes_per_second", "gauge", kBps},
    {"jailwarden_rule_amount_ops_per_second", "gauge", kOps},
    {"jailwarden_rule_fidelity", "gauge", kC},
    {"jailwarden_jail_state", "gauge", kC},
    {"jailwarden_jail_expected_running", "gauge", kC},
    {"jailwarden_jail_start_time_seconds", "gauge", kS},
    {"jailwarden_jail_oom_kills_total", "counter", kC},
    {"jailwarden_jail_isolation", "gauge", kC},
    {"jailwarden_jail_seccomp_relaxed", "gauge", kC},
    {"jailwarden_jail_seccomp_syscall", "gauge", kC},
    {"jailwarden_jail_disk_quota_bytes", "gauge", kB},
    {"jailwarden_jail_disk_quota_used_bytes", "gauge", kB},
    {"jailwarden_jail_main_running", "gauge", kC},
    {"jailwarden_jail_main_restarts_total", "counter", kC},
    {"jailwarden_jail_main_last_exit_code", "gauge", kC},
    {"jailwarden_jail_main_last_exit_signal", "gauge", kC},
    {"jailwarden_rule_matches_total", "counter", kC},
    {"jailwarden_rule_denials_total", "counter", kC},
    {"jailwarden_rule_throttles_total", "counter", kC},
    {"jailwarden_rule_headroom", "gauge", kC},
    {"jailwarden_rule_headroom_bytes", "gauge", kB},
    {"jailwarden_rule_headroom_seconds", "gauge", kS},
    {"jailwarden_rule_headroom_percent", "gauge", kP},
    {"jailwarden_rule_headroom_bytes_per_second", "gauge", kBps},
    {"jailwarden_rule_headroom_ops_per_second", "gauge", kOps},
    {"jailwarden_sampler_ticks_total", "counter", kC},
    {"jailwarden_sampler_slow_ticks_total", "counter", kC},
    {"jailwarden_sampler_tick_duration_seconds", "summary", kS},
    {"jailwarden_sampler_tick_seconds", "histogram", kS},
    {"jailwarden_sampler_tick_duration_max_seconds", "gauge", kS},
    {"jailwarden_sampler_tick_duration_last_seconds", "gauge", kS},
    {"jailwarden_sampler_slow_tier_duration_last_seconds", "gauge", kS},
    {"jailwarden_sampler_overruns_total", "counter", kC},
    {"jailwarden_sampler_read_errors_total", "counter", kC},
    {"jailwarden_sampler_list_errors_total", "counter", kC},
    {"jailwarden_sampler_jails_appeared_total", "counter", kC},
    {"jailwarden_sampler_jails_vanished_total", "counter", kC},
    {"jailwarden_sampler_last_tick_age_seconds", "gauge", kS},
    {"jailwarden_engine_evaluation_duration_seconds", "summary", kS},
    {"jailwarden_engine_evaluation_duration_max_seconds", "gauge", kS},
    {"jailwarden_engine_evaluation_duration_last_seconds", "gauge", kS},
    {"jailwarden_engine_decisions_total", "counter", kC},
    {"jailwarden_engine_rebinds_total", "counter", kC},
    {"jailwarden_engine_checks", "gauge", kC},
    {"jailwarden_engine_rules", "gauge", kC},
    {"jailwarden_engine_unsupported_rules", "gauge", kC},
    {"jailwarden_policy_generation", "gauge", kC},
    {"jailwarden_jail_healthy", "gauge", kC},
    {"jailwarden_policy_drift", "gauge", kC},
    {"jailwarden_limit_drift_total", "counter", kC},
    {"jailwarden_api_rejected_total", "counter", kC},
    {"jailwarden_config_last_reload_successful", "gauge", kC},
    {"jailwarden_config_last_reload_timestamp_seconds", "gauge", kS},
    {"jailwarden_metrics_render_duration_seconds", "gauge", kS},
    {"jailwarden_metrics_renders_total", "counter", kC},
    // The standard self-metrics of Prometheus client libraries.
    {"process_cpu_seconds_total", "counter", kS},
    {"process_resident_memory_bytes", "gauge", kB},
    {"process_virtual_memory_bytes", "gauge", kB},
    {"process_open_fds", "gauge", kC},
    {"process_max_fds", "gauge", kC},
    {"process_start_time_seconds", "gauge", kS},
};
// clang-format on

struct Parsed {
  std::map<std::string, std::string> types;       // family -> TYPE
  std::map<std::string, int> samples;             // family -> sample lines
  std::vector<std::string> label_sets;            // every sample's {...}
};

// The family a sample belongs to: a summary's _sum/_count lines and a
// histogram's _bucket/_sum/_count lines belong to the family declared by TYPE.
std::string FamilyOf(std::string_view metric, const std::map<std::string, std::string>& types) {
  for (std::string_view suffix : {"_sum", "_count", "_bucket"}) {
    if (metric.ends_with(suffix)) {
      std::string base(metric.substr(0, metric.size() - suffix.size()));
      auto it = types.find(base);
      if (it != types.end() &&
          (it->second == "histogram" || (it->second == "summary" && suffix != "_bucket"))) {
        return base;
      }
    }
  }
  return std::string(metric);
}

Parsed Parse(const std::string& text) {
  Parsed p;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty()) {
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      std::string_view rest = line.substr(7);
      const std::size_t sp = rest.find(' ');
      p.types[std::string(rest.substr(0, sp))] = std::string(rest.substr(sp + 1));
      continue;
    }
    if (line.front() == '#') {
      continue;
    }
    const std::size_t end = line.find_first_of("{ ");
    ++p.samples[FamilyOf(line.substr(0, end), p.types)];
    if (line[end] == '{') {
      p.label_sets.emplace_back(line.substr(end, line.find('}', end) - end + 1));
    }
  }
  return p;
}

constexpr std::string_view kSuffixes[] = {"_bytes", "_seconds", "_percent", "_ratio",
                                          "_per_second"};

std::string RenderFull() {
  testing::FullFixture fixture;
  MetricsCollector collector(fixture.Sources(), {.backend = "fake"});
  collector.RenderText();
  return collector.RenderText();
}

TEST(MetricNamesTest, EveryFamilyOfTheTableIsRenderedWithItsType) {
  const Parsed p = Parse(RenderFull());
  std::set<std::string> listed;
  for (const FamilyRow& row : kFamilies) {
    listed.emplace(row.name);
    auto type = p.types.find(std::string(row.name));
    ASSERT_NE(type, p.types.end()) << row.name << " is not rendered";
    EXPECT_EQ(type->second, row.type) << row.name;
    EXPECT_GT(p.samples.count(std::string(row.name)) ? p.samples.at(std::string(row.name)) : 0,
              0)
        << row.name << " has no sample with complete data";
  }
  for (const auto& [name, type] : p.types) {
    EXPECT_TRUE(listed.contains(name)) << name << " (" << type << ") is not in the table";
  }
  for (const auto& [name, n] : p.samples) {
    EXPECT_TRUE(p.types.contains(name)) << name << " has samples but no TYPE";
  }
}

TEST(MetricNamesTest, NamesFollowTheUnitRules) {
  for (const FamilyRow& row : kFamilies) {
    std::string_view base = row.name;
    if (row.type == "counter") {
      ASSERT_TRUE(base.ends_with("_total")) << row.name << ": a counter ends in _total";
      base.remove_suffix(6);
    } else {
      EXPECT_FALSE(base.ends_with("_total")) << row.name << ": only counters end in _total";
    }
    if (row.jail_exporter) {
      continue;
    }
    const std::string_view suffix = UnitSuffix(row.unit);
    if (suffix.empty()) {
      for (std::string_view s : kSuffixes) {
        EXPECT_FALSE(base.ends_with(s)) << row.name << ": a count carries no unit suffix";
      }
    } else {
      EXPECT_TRUE(base.ends_with(suffix)) << row.name << ": want the suffix " << suffix;
    }
  }
}

TEST(MetricNamesTest, PerResourceFamiliesHaveTheResourcesUnit) {
  // Every (resource, family) sample of a split family is in the family of
  // the resource's unit.
  const std::string text = RenderFull();
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty() || line.front() == '#' || !line.starts_with("jailwarden_")) {
      continue;
    }
    const std::size_t r = line.find("resource=\"");
    if (r == std::string_view::npos) {
      continue;
    }
    const std::string_view metric = line.substr(0, line.find('{'));
    std::string_view res = line.substr(r + 10);
    res = res.substr(0, res.find('"'));
    const auto resource = rctl::ParseResourceName(res);
    ASSERT_TRUE(resource.has_value()) << line;
    const std::string_view suffix = UnitSuffix(UnitOf(*resource));
    const bool ok =
        suffix.empty() ? !metric.ends_with("_bytes") && !metric.ends_with("_seconds") &&
                             !metric.ends_with("_percent") && !metric.ends_with("_second")
                       : metric.ends_with(suffix) ||
                             (metric.ends_with("_total") && !metric.ends_with("_seconds_total"));
    EXPECT_TRUE(ok) << line;
  }
}

TEST(MetricNamesTest, OneJailLabelAndNoProse) {
  const Parsed p = Parse(RenderFull());
  ASSERT_FALSE(p.label_sets.empty());
  for (const std::string& labels : p.label_sets) {
    EXPECT_THAT(labels, ::testing::Not(::testing::HasSubstr("jail=\""))) << labels;
    EXPECT_THAT(labels, ::testing::Not(::testing::HasSubstr("detail=\""))) << labels;
    // Label values are identifiers: no spaces, short.
    EXPECT_EQ(labels.find(' '), std::string::npos) << labels;
    EXPECT_LT(labels.size(), 160u) << labels;
  }
  EXPECT_TRUE(std::any_of(p.label_sets.begin(), p.label_sets.end(), [](const std::string& l) {
    return l.starts_with("{rule=\"jail:web:memoryuse:deny\"");
  }));
}

}  // namespace
}  // namespace jailwarden::metrics
