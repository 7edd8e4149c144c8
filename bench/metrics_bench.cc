// One /metrics render for 10 … 10,000 jails (bench/README.md, "metrics").
//
// Same data, three ways, in the same binary:
// - BM_Metrics_RenderText: MetricsCollector writing the text straight from
//   the snapshot (what jailwarden serves), usage + jail_id only;
// - BM_Metrics_PromCppGauges (baseline): plain prometheus-cpp Family<Gauge>
//   / Family<Counter> series, Set() from the snapshot at each scrape as
//   jail_exporter does, then Registry::Collect + TextSerializer;
// - BM_Metrics_PromCppCollectable: a custom prometheus::Collectable building
//   MetricFamily vectors from the snapshot at each scrape, then
//   TextSerializer (the other design the issue allowed).
// BM_Metrics_RenderTextFull adds everything jailwarden exports per jail
// (peaks over a 10-tick history, stale flags, two limits and two rules per
// jail, jail states), the realistic page.
// Counters: series per render and ns_per_series.

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "metrics/snapshot_builder.h"
#include "jailwarden/metrics/collector.h"
#include "jailwarden/metrics/names.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace jailwarden::metrics {
namespace {

std::shared_ptr<racct::Snapshot> MakeFleet(int jails, int history_ticks) {
  std::vector<testing::FakeJail> list;
  list.reserve(static_cast<std::size_t>(jails));
  for (int i = 0; i < jails; ++i) {
    list.push_back(testing::MakeJail("jail-" + std::to_string(i), i + 1));
  }
  return testing::BuildSnapshot(list, 100, absl::FromUnixSeconds(1700000000), history_ticks);
}

void SetSeries(benchmark::State& state, std::size_t series) {
  state.counters["series"] = static_cast<double>(series);
  state.counters["ns_per_series"] = benchmark::Counter(
      static_cast<double>(series) * 1e-9,
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_Metrics_RenderText(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto snap = MakeFleet(n, 1);
  MetricsCollector collector({.snapshot = [&] { return snap; }}, {.export_peaks = false});
  std::string out;
  collector.RenderInto(out);  // warm: label cache, limits text, rule state
  for (auto _ : state) {
    collector.RenderInto(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
  SetSeries(state, static_cast<std::size_t>(n) * 26);
}
BENCHMARK(BM_Metrics_RenderText)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)
    ->Unit(benchmark::kMicrosecond);

void BM_Metrics_RenderTextFull(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto snap = MakeFleet(n, 10);
  auto enf = std::make_shared<std::vector<platform::Enforcement>>();
  std::vector<engine::RuleTargetStats> stats;
  std::vector<JailStatus> jails;
  for (int i = 0; i < n; ++i) {
    const std::string name = "jail-" + std::to_string(i);
    for (auto [r, a] : {std::pair{rctl::Resource::kMemoryuse, rctl::Action::kDeny},
                        std::pair{rctl::Resource::kPcpu, rctl::Action::kDeny}}) {
      rctl::Rule rule;
      rule.subject = rctl::SubjectType::kJail;
      rule.subject_id = name;
      rule.resource = r;
      rule.action = a;
      rule.amount = int64_t{1} << 30;
      rule.per = rctl::SubjectType::kJail;
      enf->push_back({rule, platform::Fidelity::kExact, "memory.max", ""});
      engine::RuleTargetStats st;
      st.rule = rule;
      st.rule_text = "jail:" + name + ":" + std::string(rctl::ResourceName(r)) + ":deny=1073741824";
      st.jail = name;
      st.matched = 3;
      st.evaluations_over = 9;
      stats.push_back(st);
    }
    jails.push_back({name, i + 1, "running", absl::FromUnixSeconds(1700000000), true});
  }
  MetricsCollector collector({.snapshot = [&] { return snap; },
                              .rule_stats = [&] { return stats; },
                              .jails = [&] { return jails; },
                              .enforcements = [&] { return enf; },
                              .engine_health = [] { return EngineHealth{}; }});
  std::string out;
  collector.RenderInto(out);  // warm: label cache, limits text, rule state
  for (auto _ : state) {
    collector.RenderInto(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
  // usage 25 + jail_id + stale + 23 peaks + 2 limits + 3 state + 2 x 4 rule
  // series (+ fidelity 2).
  SetSeries(state, static_cast<std::size_t>(n) * (25 + 1 + 1 + 23 + 2 + 3 + 8 + 2));
}
BENCHMARK(BM_Metrics_RenderTextFull)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)
    ->Unit(benchmark::kMicrosecond);

void BM_Metrics_PromCppGauges(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto snap = MakeFleet(n, 1);
  prometheus::Registry registry;
  // Families and series created once (a long-running exporter); values are
  // set at every scrape from the snapshot.
  std::vector<prometheus::Family<prometheus::Gauge>*> gauges(rctl::kResourceCount, nullptr);
  std::vector<prometheus::Family<prometheus::Counter>*> counters(rctl::kResourceCount,
                                                                 nullptr);
  for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
    const UsageFamily& f = UsageFamilyOf(rctl::ResourceAt(r));
    if (f.type == "counter") {
      counters[r] = &prometheus::BuildCounter().Name(std::string(f.name)).Help(std::string(f.help))
                         .Register(registry);
    } else {
      gauges[r] = &prometheus::BuildGauge().Name(std::string(f.name)).Help(std::string(f.help))
                       .Register(registry);
    }
  }
  auto& jail_id = prometheus::BuildGauge().Name("jail_id").Help("JID").Register(registry);
  struct Row {
    std::vector<prometheus::Gauge*> gauge;
    std::vector<prometheus::Counter*> counter;
    prometheus::Gauge* id;
  };
  std::vector<Row> rows(static_cast<std::size_t>(n));
  const racct::JailTable& table = snap->jails();
  for (std::size_t s = 0; s < rows.size(); ++s) {
    const prometheus::Labels labels{{"name", table.jails[s].name}};
    rows[s].gauge.assign(rctl::kResourceCount, nullptr);
    rows[s].counter.assign(rctl::kResourceCount, nullptr);
    for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
      if (gauges[r] != nullptr) {
        rows[s].gauge[r] = &gauges[r]->Add(labels);
      } else {
        rows[s].counter[r] = &counters[r]->Add(labels);
      }
    }
    rows[s].id = &jail_id.Add(labels);
  }
  prometheus::TextSerializer serializer;
  std::string out;
  for (auto _ : state) {
    for (std::size_t s = 0; s < rows.size(); ++s) {
      const rctl::UsageVector& u = snap->usage(static_cast<uint32_t>(s));
      for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
        const double scale = UsageFamilyOf(rctl::ResourceAt(r)).in_millions ? 1e-6 : 1.0;
        const double v = static_cast<double>(u[r]) * scale;
        if (rows[s].gauge[r] != nullptr) {
          rows[s].gauge[r]->Set(v);
        } else {
          // Counters only go up: store the kernel's total (jail_exporter).
          const double delta = v - rows[s].counter[r]->Value();
          if (delta > 0) {
            rows[s].counter[r]->Increment(delta);
          }
        }
      }
      rows[s].id->Set(static_cast<double>(table.jails[s].jid));
    }
    out = serializer.Serialize(registry.Collect());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
  SetSeries(state, static_cast<std::size_t>(n) * 26);
}
BENCHMARK(BM_Metrics_PromCppGauges)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)
    ->Unit(benchmark::kMicrosecond);

// The custom-Collectable design: MetricFamily objects from the snapshot.
class SnapshotCollectable : public prometheus::Collectable {
 public:
  explicit SnapshotCollectable(std::shared_ptr<const racct::Snapshot> snap)
      : snap_(std::move(snap)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> out;
    const racct::JailTable& table = snap_->jails();
    out.reserve(rctl::kResourceCount + 1);
    for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
      const UsageFamily& f = UsageFamilyOf(rctl::ResourceAt(r));
      prometheus::MetricFamily fam;
      fam.name = std::string(f.name);
      fam.help = std::string(f.help);
      const bool counter = f.type == "counter";
      fam.type = counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
      fam.metric.resize(table.size());
      for (std::size_t s = 0; s < table.size(); ++s) {
        prometheus::ClientMetric& m = fam.metric[s];
        m.label.push_back({"name", table.jails[s].name});
        const double v = static_cast<double>(snap_->usage(static_cast<uint32_t>(s))[r]) *
                         (f.in_millions ? 1e-6 : 1.0);
        if (counter) {
          m.counter.value = v;
        } else {
          m.gauge.value = v;
        }
      }
      out.push_back(std::move(fam));
    }
    prometheus::MetricFamily id;
    id.name = "jail_id";
    id.help = "JID";
    id.type = prometheus::MetricType::Gauge;
    id.metric.resize(table.size());
    for (std::size_t s = 0; s < table.size(); ++s) {
      id.metric[s].label.push_back({"name", table.jails[s].name});
      id.metric[s].gauge.value = static_cast<double>(table.jails[s].jid);
    }
    out.push_back(std::move(id));
    return out;
  }

 private:
  std::shared_ptr<const racct::Snapshot> snap_;
};

void BM_Metrics_PromCppCollectable(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  SnapshotCollectable collectable(MakeFleet(n, 1));
  prometheus::TextSerializer serializer;
  std::string out;
  for (auto _ : state) {
    out = serializer.Serialize(collectable.Collect());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
  SetSeries(state, static_cast<std::size_t>(n) * 26);
}
BENCHMARK(BM_Metrics_PromCppCollectable)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace jailwarden::metrics

BENCHMARK_MAIN();
