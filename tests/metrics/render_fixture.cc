// Prints one /metrics page rendered from fake but complete data (every
// family the collector has), for `promtool check metrics` and for eyes.
// Usage: metrics_render_fixture [renders]   (the last render is printed)

#include <cstdio>
#include <cstdlib>
#include <string>

#include "fakes/snapshot_builder.h"
#include "jailwarden/metrics/collector.h"
#include "metrics/snapshot_builder.h"

using namespace jailwarden;  // NOLINT: a test program

int main(int argc, char** argv) {
  const int renders = argc > 1 ? std::atoi(argv[1]) : 2;
  const absl::Time now = absl::Now();
  fakes::SnapshotBuilder builder(now - absl::Milliseconds(900));
  builder.HistoryDepth(10).Ncpu(2).NextSeq(41);
  auto snap = metrics::testing::BuildTicks(
      builder,
      {metrics::testing::MakeJail("web", 1), metrics::testing::MakeJail("db", 2),
       metrics::testing::MakeJail("ci-runner.1", 3)},
      10);
  snap->health.ticks = 50;
  snap->health.slow_ticks = 5;
  snap->health.avg_tick_duration = absl::Microseconds(120);
  snap->health.max_tick_duration = absl::Microseconds(900);
  snap->health.last_tick_duration = absl::Microseconds(110);

  rctl::Rule mem;
  mem.subject = rctl::SubjectType::kJail;
  mem.subject_id = "web";
  mem.resource = rctl::Resource::kMemoryuse;
  mem.action = rctl::Action::kDeny;
  mem.amount = int64_t{512} << 20;
  mem.per = rctl::SubjectType::kJail;
  rctl::Rule pcpu = mem;
  pcpu.resource = rctl::Resource::kPcpu;
  pcpu.amount = 20000000;
  rctl::Rule wbps = mem;
  wbps.resource = rctl::Resource::kWritebps;
  wbps.action = rctl::Action::kThrottle;
  wbps.amount = 1 << 20;
  auto enforcements = std::make_shared<std::vector<platform::Enforcement>>();
  enforcements->push_back({mem, platform::Fidelity::kExact, "memory.max", ""});
  enforcements->push_back({pcpu, platform::Fidelity::kApproximate, "cpu.max",
                           "CFS bandwidth quota instead of racctd throttling"});
  enforcements->push_back({wbps, platform::Fidelity::kApproximate, "io.max wbps",
                           "block-device level"});

  std::vector<engine::RuleTargetStats> stats(3);
  stats[0].rule = mem;
  stats[0].rule_text = "jail:web:memoryuse:deny=536870912";
  stats[1].rule = pcpu;
  stats[1].rule_text = "jail:web:pcpu:deny=20";
  stats[2].rule = wbps;
  stats[2].rule_text = "jail:web:writebps:throttle=1048576";
  for (auto& st : stats) {
    st.jail = "web";
    st.matched = 2;
    st.evaluations_over = 17;
    st.headroom = 1000;
  }
  metrics::EngineHealthRecorder engine_health;
  engine::EvaluationResult result;
  result.checks = 3;
  engine_health.Record(absl::Microseconds(12), result);

  metrics::MetricsCollector collector(
      {.snapshot = [&] { return snap; },
       .rule_stats = [&] { return stats; },
       .jails =
           [&] {
             return std::vector<metrics::JailStatus>{
                 {"web", 1, "running", now - absl::Hours(1), true},
                 {"db", 2, "running", now - absl::Minutes(5), true},
                 {"ci-runner.1", 3, "running", now, false},
                 {"batch", -1, "stopped", std::nullopt, true}};
           },
       .enforcements = [&] { return enforcements; },
       .engine_health = [&] { return engine_health.Read(); }},
      {.backend = "fake"});
  std::string text;
  for (int i = 0; i < renders; ++i) {
    collector.RenderInto(text);
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}
