#include "jailwarden/metrics/collector.h"

#include <sys/resource.h>

#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fakes/fake_clock.h"
#include "fakes/snapshot_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/metrics/names.h"
#include "metrics/snapshot_builder.h"
#include "metrics/text_format.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace jailwarden::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::BuildTicks;
using testing::MakeJail;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

// `ticks` ticks of `jails`, the last at kNow, all kept in history.
std::shared_ptr<racct::Snapshot> Fleet(const std::vector<testing::FakeJail>& jails,
                                       int ticks = 1) {
  fakes::SnapshotBuilder b(kNow - absl::Milliseconds(100) * (ticks - 1));
  b.HistoryDepth(static_cast<std::size_t>(ticks));
  return BuildTicks(b, jails, ticks);
}

rctl::Rule JailRule(std::string jail, rctl::Resource r, rctl::Action a, int64_t amount,
                    rctl::SubjectType per = rctl::SubjectType::kJail) {
  rctl::Rule rule;
  rule.subject = rctl::SubjectType::kJail;
  rule.subject_id = std::move(jail);
  rule.resource = r;
  rule.action = a;
  rule.amount = amount;
  rule.per = per;
  return rule;
}

// Lines of `text` that are samples of family `name` (exact metric name).
std::vector<std::string> Samples(const std::string& text, std::string_view name) {
  std::vector<std::string> out;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty() || line.front() == '#') {
      continue;
    }
    std::string_view metric = line.substr(0, line.find_first_of("{ "));
    if (metric == name) {
      out.emplace_back(line);
    }
  }
  return out;
}

TEST(MetricsCollectorTest, RendersJailExporterNamesWithNameLabel) {
  auto snap = Fleet({MakeJail("web", 3), MakeJail("db", 4)});
  MetricsCollector collector({.snapshot = [&] { return snap; }}, {.backend = "fake"});
  const std::string text = collector.RenderText();
  EXPECT_THAT(text, HasSubstr("\njail_num 2\n"));
  EXPECT_THAT(text, HasSubstr("\njail_id{name=\"web\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("\njail_memoryuse_bytes{name=\"web\"} 67108864\n"));
  EXPECT_THAT(text, HasSubstr("\njail_cputime_seconds_total{name=\"db\"} 12.345678\n"));
  EXPECT_THAT(text, HasSubstr("\njail_wallclock_seconds_total{name=\"db\"} 60\n"));
  EXPECT_THAT(text, HasSubstr("\njail_pcpu_used{name=\"web\"} 20.5\n"));
  EXPECT_THAT(text, HasSubstr("\njail_readbps{name=\"web\"} 22003\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE jail_cputime_seconds_total counter\n"));
  EXPECT_THAT(text, HasSubstr("jailwarden_build_info{version=\""));
  EXPECT_THAT(text, HasSubstr("backend=\"fake\"} 1\n"));
  for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
    const UsageFamily& f = UsageFamilyOf(rctl::ResourceAt(r));
    EXPECT_EQ(Samples(text, f.name).size(), 2u) << f.name;
  }
}

TEST(MetricsCollectorTest, EveryFamilyHasOneHelpAndTypeAndContiguousSamples) {
  auto snap = Fleet({MakeJail("web", 3)}, 3);
  auto enf = std::make_shared<std::vector<platform::Enforcement>>();
  enf->push_back({JailRule("web", rctl::Resource::kMemoryuse, rctl::Action::kDeny, 1 << 30),
                  platform::Fidelity::kExact, "memory.max", ""});
  MetricsCollector collector(
      {.snapshot = [&] { return snap; },
       .rule_stats = [] { return std::vector<engine::RuleTargetStats>(); },
       .jails = [] { return std::vector<JailStatus>{{"web", 3, "running", kNow, true}}; },
       .enforcements = [&] { return enf; },
       .engine_health = [] { return EngineHealth{}; }});
  const std::string text = collector.RenderText();
  std::map<std::string, int> help, type;
  std::set<std::string> finished;
  std::string current;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty()) {
      continue;
    }
    if (StartsWith(line, "# HELP ")) {
      std::string name(line.substr(7, line.find(' ', 7) - 7));
      ++help[name];
      if (!current.empty()) {
        finished.insert(current);
      }
      current = name;
      EXPECT_EQ(finished.count(name), 0u) << "family split: " << name;
      continue;
    }
    if (StartsWith(line, "# TYPE ")) {
      ++type[std::string(line.substr(7, line.find(' ', 7) - 7))];
      continue;
    }
    std::string metric(line.substr(0, line.find_first_of("{ ")));
    EXPECT_TRUE(StartsWith(metric, current)) << metric << " outside family " << current;
  }
  EXPECT_GT(help.size(), 40u);
  for (const auto& [name, n] : help) {
    EXPECT_EQ(n, 1) << name;
    EXPECT_EQ(type[name], 1) << name;
  }
}

TEST(MetricsCollectorTest, LeavesOutResourcesTheBackendDidNotRead) {
  fakes::SnapshotBuilder b(kNow);
  b.Jail("web", 3).SetAll("web", MakeJail("web", 3).usage);
  b.Unset("web", rctl::Resource::kPseudoterminals).Stale("web");
  auto snap = b.Build();
  MetricsCollector collector({.snapshot = [&] { return snap; }});
  const std::string text = collector.RenderText();
  EXPECT_THAT(text, HasSubstr("# TYPE jail_pseudoterminals gauge\n"));
  EXPECT_TRUE(Samples(text, "jail_pseudoterminals").empty());
  EXPECT_THAT(text, HasSubstr("\njailwarden_jail_usage_stale{name=\"web\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("resource=\"pseudoterminals\"")));
}

TEST(MetricsCollectorTest, EscapesLabelValues) {
  auto snap = Fleet({MakeJail("we\"b\\x\ny", 3)});
  MetricsCollector collector({.snapshot = [&] { return snap; }});
  EXPECT_THAT(collector.RenderText(), HasSubstr("jail_id{name=\"we\\\"b\\\\x\\ny\"} 3\n"));
}

TEST(MetricsCollectorTest, LimitDriftIsACounterPerJailAndResource) {
  MetricsSources sources;
  sources.limit_drift = [] {
    return std::vector<LimitDriftCount>{{"web", "memoryuse", 2}, {"web", "nthr", 1}};
  };
  MetricsCollector collector(std::move(sources));
  const std::string text = collector.RenderText();
  EXPECT_THAT(text, HasSubstr("# TYPE jailwarden_limit_drift_total counter\n"));
  EXPECT_THAT(text,
              HasSubstr("jailwarden_limit_drift_total{name=\"web\",resource=\"memoryuse\"} 2\n"
                        "jailwarden_limit_drift_total{name=\"web\",resource=\"nthr\"} 1\n"));
  // Without the source the family is left out.
  EXPECT_THAT(MetricsCollector(MetricsSources{}).RenderText(),
              Not(HasSubstr("jailwarden_limit_drift_total")));
}

TEST(MetricsCollectorTest, LimitsAreInUsageUnitsWithActionAndPer) {
  auto enf = std::make_shared<std::vector<platform::Enforcement>>();
  enf->push_back({JailRule("web", rctl::Resource::kMemoryuse, rctl::Action::kDeny, 536870912),
                  platform::Fidelity::kExact, "memory.max", ""});
  enf->push_back({JailRule("web", rctl::Resource::kPcpu, rctl::Action::kDeny, 20000000),
                  platform::Fidelity::kApproximate, "cpu.max", "CFS quota, not racctd"});
  enf->push_back({JailRule("web", rctl::Resource::kCputime, rctl::Action::kSigkill, 3600500000),
                  platform::Fidelity::kSampled, "sampler", ""});
  enf->push_back({JailRule("web", rctl::Resource::kVmemoryuse, rctl::Action::kDeny, 1 << 30,
                           rctl::SubjectType::kProcess),
                  platform::Fidelity::kExact, "RLIMIT_AS", ""});
  enf->push_back(enf->front());  // duplicates are rendered once
  MetricsCollector collector({.enforcements = [&] { return enf; }});
  const std::string text = collector.RenderText();
  // One family per unit, the base unit in its name.
  EXPECT_THAT(text, HasSubstr("\njailwarden_jail_limit_bytes{name=\"web\",resource=\"memoryuse\","
                              "action=\"deny\",per=\"jail\"} 536870912\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_jail_limit_percent{name=\"web\",resource=\"pcpu\","
                              "action=\"deny\",per=\"jail\"} 20\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_jail_limit_seconds{name=\"web\",resource=\"cputime\","
                              "action=\"sigkill\",per=\"jail\"} 3600.5\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_jail_limit_bytes{name=\"web\",resource=\"vmemoryuse\","
                              "action=\"deny\",per=\"process\"} 1073741824\n"));
  // No prose in labels: the mechanism is a small enum, no detail label.
  EXPECT_THAT(text, HasSubstr("\njailwarden_rule_fidelity{rule=\"jail:web:pcpu:deny\","
                              "fidelity=\"approximate\",mechanism=\"cgroup\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_rule_fidelity{rule=\"jail:web:vmemoryuse:deny/"
                              "process\",fidelity=\"exact\",mechanism=\"rlimit\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("detail=")));
  EXPECT_THAT(text, Not(HasSubstr("CFS quota")));
  // The amount is the value, not part of the rule label.
  EXPECT_THAT(text, HasSubstr("\njailwarden_rule_amount_bytes{rule=\"jail:web:memoryuse:deny\","
                              "resource=\"memoryuse\",action=\"deny\",per=\"jail\"} "
                              "536870912\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_rule_amount_percent{rule=\"jail:web:pcpu:deny\","
                              "resource=\"pcpu\",action=\"deny\",per=\"jail\"} 20\n"));
  EXPECT_EQ(Samples(text, "jailwarden_jail_limit_bytes").size(), 2u);
  EXPECT_EQ(Samples(text, "jailwarden_jail_limit_percent").size(), 1u);
  EXPECT_EQ(Samples(text, "jailwarden_jail_limit_seconds").size(), 1u);
  EXPECT_TRUE(Samples(text, "jailwarden_jail_limit").empty());
  EXPECT_THAT(text, HasSubstr("# TYPE jailwarden_jail_limit gauge\n"));
  EXPECT_EQ(Samples(text, "jailwarden_rule_fidelity").size(), 4u);

  // A new list (new pointer) replaces the rendered families.
  auto next = std::make_shared<std::vector<platform::Enforcement>>();
  next->push_back(enf->front());
  enf = next;
  EXPECT_EQ(Samples(collector.RenderText(), "jailwarden_jail_limit_bytes").size(), 1u);
}

TEST(MetricsCollectorTest, ChangedAmountKeepsTheRuleSeries) {
  auto enf = std::make_shared<std::vector<platform::Enforcement>>();
  enf->push_back({JailRule("web", rctl::Resource::kMemoryuse, rctl::Action::kDeny, 1000),
                  platform::Fidelity::kExact, "memory.max", ""});
  MetricsCollector collector({.enforcements = [&] { return enf; }});
  const std::string before = collector.RenderText();
  auto next = std::make_shared<std::vector<platform::Enforcement>>();
  next->push_back({JailRule("web", rctl::Resource::kMemoryuse, rctl::Action::kDeny, 2000),
                   platform::Fidelity::kExact, "memory.max", ""});
  enf = next;
  const std::string after = collector.RenderText();
  const std::string series =
      "\njailwarden_rule_amount_bytes{rule=\"jail:web:memoryuse:deny\",resource=\"memoryuse\","
      "action=\"deny\",per=\"jail\"} ";
  EXPECT_THAT(before, HasSubstr(series + "1000\n"));
  EXPECT_THAT(after, HasSubstr(series + "2000\n"));
}

TEST(MetricsCollectorTest, RuleIdDropsOnlyTheAmount) {
  EXPECT_EQ(RuleId("jail:web:memoryuse:deny=1000"), "jail:web:memoryuse:deny");
  EXPECT_EQ(RuleId("jail:web:openfiles:log=100/process"), "jail:web:openfiles:log/process");
  EXPECT_EQ(RuleId("jail:a=b:maxproc:deny=5"), "jail:a=b:maxproc:deny");
  EXPECT_EQ(RuleId("user:1001:pcpu:deny"), "user:1001:pcpu:deny");
}

TEST(MetricsCollectorTest, MechanismClassIsASmallEnum) {
  EXPECT_EQ(MechanismClass("memory.max"), "cgroup");
  EXPECT_EQ(MechanismClass("memory.memsw.limit_in_bytes"), "cgroup");
  EXPECT_EQ(MechanismClass("blkio.throttle.read_bps_device"), "cgroup");
  EXPECT_EQ(MechanismClass("io.max rbps"), "cgroup");
  EXPECT_EQ(MechanismClass("RLIMIT_AS"), "rlimit");
  EXPECT_EQ(MechanismClass("sampler + RLIMIT_NOFILE"), "sampled");
  EXPECT_EQ(MechanismClass("sampler"), "sampled");
  EXPECT_EQ(MechanismClass("kernel.msgmni"), "sysctl");
  EXPECT_EQ(MechanismClass("devpts max="), "devpts");
  EXPECT_EQ(MechanismClass("rctl_add_rule"), "kernel");
  EXPECT_EQ(MechanismClass("none"), "none");
  EXPECT_EQ(MechanismClass("something new"), "other");
}

TEST(MetricsCollectorTest, PeaksCoverTicksSincePreviousRender) {
  const std::vector<testing::FakeJail> web = {MakeJail("web", 3)};
  fakes::SnapshotBuilder b(kNow);
  b.HistoryDepth(5);
  auto snap = BuildTicks(b, web, 5);
  MetricsCollector collector({.snapshot = [&] { return snap; }});
  const int64_t mem = int64_t{64} << 20;
  // First render: the whole ring; the oldest tick (4 back) is the highest.
  std::string text = collector.RenderText();
  EXPECT_THAT(text, HasSubstr(StrCat("\njailwarden_jail_usage_peak_bytes{name=\"web\",resource="
                                     "\"memoryuse\"} ",
                                     mem + mem / 10 * 4, "\n")));
  EXPECT_THAT(text, Not(HasSubstr("resource=\"cputime\"")));
  // 23 resources split by unit: 9 counts, 9 bytes, pcpu, 2 bytes/s, 2 ops/s.
  EXPECT_EQ(Samples(text, "jailwarden_jail_usage_peak").size(), 9u);
  EXPECT_EQ(Samples(text, "jailwarden_jail_usage_peak_bytes").size(), 9u);
  EXPECT_EQ(Samples(text, "jailwarden_jail_usage_peak_percent").size(), 1u);
  EXPECT_EQ(Samples(text, "jailwarden_jail_usage_peak_bytes_per_second").size(), 2u);
  EXPECT_EQ(Samples(text, "jailwarden_jail_usage_peak_ops_per_second").size(), 2u);
  EXPECT_TRUE(Samples(text, "jailwarden_jail_usage_peak_seconds").empty());
  // No tick since: the peak is the current value.
  text = collector.RenderText();
  EXPECT_THAT(text, HasSubstr(StrCat("\njailwarden_jail_usage_peak_bytes{name=\"web\",resource="
                                     "\"memoryuse\"} ",
                                     mem, "\n")));
  // Two more ticks: only those count (1 back is higher than current).
  snap = BuildTicks(b, web, 2);
  text = collector.RenderText();
  EXPECT_THAT(text, HasSubstr(StrCat("\njailwarden_jail_usage_peak_bytes{name=\"web\",resource="
                                     "\"memoryuse\"} ",
                                     mem + mem / 10, "\n")));
}

TEST(MetricsCollectorTest, PeaksCanBeTurnedOff) {
  auto snap = Fleet({MakeJail("web", 3)}, 5);
  MetricsCollector collector({.snapshot = [&] { return snap; }}, {.export_peaks = false});
  EXPECT_THAT(collector.RenderText(), Not(HasSubstr("jailwarden_jail_usage_peak")));
}

engine::RuleTargetStats Stat(const rctl::Rule& rule, std::string text, std::string jail,
                             int64_t pid, uint64_t matched, uint64_t over, int64_t headroom) {
  engine::RuleTargetStats st;
  st.rule = rule;
  st.rule_text = std::move(text);
  st.jail = std::move(jail);
  st.target.kind = pid < 0 ? engine::TargetKind::kJail : engine::TargetKind::kProcess;
  st.target.pid = pid;
  st.matched = matched;
  st.evaluations_over = over;
  st.headroom = headroom;
  return st;
}

TEST(MetricsCollectorTest, RuleCountersAggregatePerJailAndStayMonotonic) {
  const rctl::Rule deny =
      JailRule("web", rctl::Resource::kMemoryuse, rctl::Action::kDeny, 1000);
  const rctl::Rule per_process = JailRule("web", rctl::Resource::kOpenfiles,
                                          rctl::Action::kLog, 100, rctl::SubjectType::kProcess);
  const rctl::Rule pcpu = JailRule("web", rctl::Resource::kPcpu, rctl::Action::kDeny, 20000000);
  std::vector<engine::RuleTargetStats> stats = {
      Stat(deny, "jail:web:memoryuse:deny=1000", "web", -1, 2, 7, -50),
      Stat(per_process, "jail:web:openfiles:log=100/process", "web", 11, 3, 3, 40),
      Stat(per_process, "jail:web:openfiles:log=100/process", "web", 12, 1, 1, 10),
      Stat(pcpu, "jail:web:pcpu:deny=20", "web", -1, 1, 30, -1500000),
  };
  MetricsCollector collector({.rule_stats = [&] { return stats; }});
  std::string text = collector.RenderText();
  const std::string openfiles =
      "{rule=\"jail:web:openfiles:log/process\",name=\"web\",resource=\"openfiles\","
      "action=\"log\"}";
  EXPECT_THAT(text, HasSubstr("\njailwarden_rule_matches_total" + openfiles + " 4\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_rule_headroom" + openfiles + " 10\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_rule_denials_total{rule=\"jail:web:memoryuse:"
                              "deny\",name=\"web\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_rule_throttles_total{rule=\"jail:web:pcpu:"
                              "deny\",name=\"web\"} 30\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_rule_headroom_percent{rule=\"jail:web:pcpu:deny\","
                              "name=\"web\",resource=\"pcpu\",action=\"deny\"} -1.5\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_rule_headroom_bytes{rule=\"jail:web:memoryuse:"
                              "deny\",name=\"web\",resource=\"memoryuse\",action=\"deny\"} "
                              "-50\n"));
  EXPECT_THAT(text, Not(HasSubstr("jail=\"")));
  EXPECT_EQ(Samples(text, "jailwarden_rule_denials_total").size(), 1u);
  EXPECT_EQ(Samples(text, "jailwarden_rule_throttles_total").size(), 1u);

  // Process 11 exits and 12 matches once more: the aggregate keeps 11's.
  stats.erase(stats.begin() + 1);
  stats[1].matched = 2;
  text = collector.RenderText();
  EXPECT_THAT(text, HasSubstr("\njailwarden_rule_matches_total" + openfiles + " 5\n"));

  // The deny rule's amount changes (the engine's counters restart for the
  // new rule): the series goes on from where it was.
  const rctl::Rule raised =
      JailRule("web", rctl::Resource::kMemoryuse, rctl::Action::kDeny, 2000);
  stats[0] = Stat(raised, "jail:web:memoryuse:deny=2000", "web", -1, 0, 2, 900);
  text = collector.RenderText();
  EXPECT_THAT(text, HasSubstr("\njailwarden_rule_denials_total{rule=\"jail:web:memoryuse:"
                              "deny\",name=\"web\"} 9\n"));

  // The rule goes away: so do its series.
  stats.erase(stats.begin() + 1);
  text = collector.RenderText();
  EXPECT_THAT(text, Not(HasSubstr("openfiles")));
}

TEST(MetricsCollectorTest, JailStatusFamilies) {
  std::vector<JailStatus> jails = {
      {"web", 3, "running", absl::FromUnixSeconds(1700000000) + absl::Milliseconds(250), true},
      {"batch", -1, "stopped", std::nullopt, true},
  };
  MetricsCollector collector({.jails = [&] { return jails; }});
  const std::string text = collector.RenderText();
  EXPECT_THAT(text, HasSubstr("\njailwarden_jail_state{name=\"web\",state=\"running\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_jail_state{name=\"batch\",state=\"stopped\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_jail_expected_running{name=\"batch\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_jail_start_time_seconds{name=\"web\"} "
                              "1700000000.25\n"));
  EXPECT_EQ(Samples(text, "jailwarden_jail_start_time_seconds").size(), 1u);
}

TEST(MetricsCollectorTest, SamplerAndEngineHealth) {
  auto snap = Fleet({MakeJail("web", 3)});
  snap->health.ticks = 100;
  snap->health.overruns = 2;
  snap->health.avg_tick_duration = absl::Microseconds(150);
  snap->health.max_tick_duration = absl::Milliseconds(3);
  snap->health.read_errors[static_cast<std::size_t>(platform::ReadErrorReason::kParse)] = 4;
  EngineHealthRecorder recorder;
  engine::EvaluationResult result;
  result.decisions.resize(3);
  result.checks = 9;
  recorder.Record(absl::Microseconds(20), result);
  recorder.Record(absl::Microseconds(40), result);
  FakeClock clock(kNow + absl::Milliseconds(1500));
  MetricsCollector collector({.snapshot = [&] { return snap; },
                              .engine_health = [&] { return recorder.Read(); }},
                             {.clock = &clock});
  const std::string text = collector.RenderText();
  EXPECT_THAT(text, HasSubstr("\njailwarden_sampler_ticks_total 100\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_sampler_overruns_total 2\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_sampler_tick_duration_seconds_sum 0.015\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_sampler_tick_duration_seconds_count 100\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_sampler_tick_duration_max_seconds 0.003\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_sampler_read_errors_total{reason=\"parse\"} 4\n"));
  EXPECT_EQ(Samples(text, "jailwarden_sampler_read_errors_total").size(), 5u);
  EXPECT_THAT(text, HasSubstr("\njailwarden_sampler_last_tick_age_seconds 1.5\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_engine_evaluation_duration_seconds_sum 0.00006\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_engine_evaluation_duration_seconds_count 2\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_engine_evaluation_duration_max_seconds 0.00004\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_engine_decisions_total 6\n"));
  EXPECT_THAT(text, HasSubstr("\njailwarden_engine_checks 9\n"));
}

TEST(MetricsCollectorTest, WithoutSnapshotRendersBuildInfoAndNoJails) {
  MetricsCollector collector({.snapshot = [] { return nullptr; }});
  const std::string text = collector.RenderText();
  EXPECT_THAT(text, HasSubstr("\njail_num 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("jail_memoryuse_bytes")));
  EXPECT_THAT(text, Not(HasSubstr("jailwarden_sampler_ticks_total")));
}

TEST(MetricsCollectorTest, RenderIntoReusesTheBuffer) {
  auto snap = Fleet({MakeJail("web", 3), MakeJail("db", 4)});
  MetricsCollector collector({.snapshot = [&] { return snap; }});
  std::string buffer;
  collector.RenderInto(buffer);
  const std::size_t size = buffer.size();
  const char* data = buffer.data();
  collector.RenderInto(buffer);
  EXPECT_EQ(buffer.data(), data);
  EXPECT_NEAR(static_cast<double>(buffer.size()), static_cast<double>(size), 64.0);
  EXPECT_THAT(buffer, HasSubstr("jailwarden_metrics_renders_total 1\n"));
}

TEST(MetricsCollectorTest, AppendsPrometheusCppRegistries) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("jailwarden_api_requests_total")
      .Help("API requests.")
      .Register(*registry)
      .Add({{"verb", "list"}})
      .Increment(3);
  MetricsCollector collector({});
  collector.AddCollectable(registry);
  EXPECT_THAT(collector.RenderText(),
              HasSubstr("jailwarden_api_requests_total{verb=\"list\"} 3"));
  registry.reset();  // held weakly: gone from the next render
  EXPECT_THAT(collector.RenderText(), Not(HasSubstr("jailwarden_api_requests_total")));
}

TEST(TextFormatTest, FixedPointIsExact) {
  std::string s;
  text::AppendFixed(s, 1500000, 6);
  EXPECT_EQ(s, "1.5");
  s.clear();
  text::AppendFixed(s, -5, 6);
  EXPECT_EQ(s, "-0.000005");
  s.clear();
  text::AppendFixed(s, 7000000, 6);
  EXPECT_EQ(s, "7");
  s.clear();
  text::AppendFixed(s, INT64_MIN, 9);
  EXPECT_EQ(s, "-9223372036.854775808");
  s.clear();
  text::AppendSeconds(s, absl::InfiniteDuration());
  EXPECT_EQ(s, "+Inf");
}

TEST(MetricsCollectorTest, ProcessSelfMetricsAreThisProcess) {
  MetricsCollector collector({});
  const std::string text = collector.RenderText();
  auto value = [&](std::string_view name) {
    const std::vector<std::string> s = Samples(text, name);
    EXPECT_EQ(s.size(), 1u) << name;
    return s.empty() ? -1.0 : std::strtod(s[0].substr(s[0].find(' ') + 1).c_str(), nullptr);
  };
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  EXPECT_EQ(value("process_max_fds"), static_cast<double>(rl.rlim_cur));
  // At least stdin, stdout, stderr; fewer than the limit.
  EXPECT_GE(value("process_open_fds"), 3.0);
  EXPECT_LT(value("process_open_fds"), static_cast<double>(rl.rlim_cur));
  EXPECT_GT(value("process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(value("process_virtual_memory_bytes"), value("process_resident_memory_bytes"));
  EXPECT_GE(value("process_cpu_seconds_total"), 0.0);
  // Started within the last hour, not in the future.
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  EXPECT_LE(value("process_start_time_seconds"), now + 1);
  EXPECT_GT(value("process_start_time_seconds"), now - 3600);
  MetricsCollector quiet({}, {.export_process = false});
  EXPECT_THAT(quiet.RenderText(), Not(HasSubstr("process_")));
}

TEST(MetricsCollectorTest, IoCountersFromTheRunningTotals) {
  auto snap = Fleet({MakeJail("web", 3), MakeJail("db", 4)});
  // "db": the backend gave no cumulative write-ops counter.
  std::vector<std::array<int64_t, 4>> totals;
  for (const auto& jail : snap->tick->jails->jails) {  // slots in table order
    totals.push_back(jail.name == "web" ? std::array<int64_t, 4>{1000, 2000, 3, 4}
                                        : std::array<int64_t, 4>{5, 6, 7, -1});
  }
  testing::SetIoTotals(*snap, std::move(totals));
  MetricsCollector collector({.snapshot = [&] { return snap; }});
  const std::string text = collector.RenderText();
  EXPECT_THAT(text, HasSubstr("# TYPE jail_read_bytes_total counter\n"));
  EXPECT_THAT(text, HasSubstr("\njail_read_bytes_total{name=\"web\"} 1000\n"));
  EXPECT_THAT(text, HasSubstr("\njail_write_bytes_total{name=\"web\"} 2000\n"));
  EXPECT_THAT(text, HasSubstr("\njail_read_ops_total{name=\"db\"} 7\n"));
  EXPECT_EQ(Samples(text, "jail_write_ops_total").size(), 1u);
  // A tick without totals (FreeBSD: rates only): headers, no samples.
  auto plain = Fleet({MakeJail("web", 3)});
  MetricsCollector freebsd({.snapshot = [&] { return plain; }});
  EXPECT_TRUE(Samples(freebsd.RenderText(), "jail_read_bytes_total").empty());
}

}  // namespace
}  // namespace jailwarden::metrics
