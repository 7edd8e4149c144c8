// Engine::Evaluate over {1, 100, 1,000, 10,000} jails × {1, 8, 32} rules per
// jail, against a same-run baseline that streams the same usage arrays once
// (a sum over every jail's 25 values, explicit SIMD: the engine's own
// SumValues kernel, so it is vectorised in every build type). The baseline
// reports GB/s beside BM_Engine_Memcpy, glibc's memcpy over the same bytes:
// the machine's bandwidth for that working set. Every Evaluate benchmark
// also reports `ratio`: its CPU time per evaluation over the baseline's,
// both measured back to back in the same process (bench/README.md records
// the figures; the context line `build_type` says which build made them).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/threshold_scan.h"
#include "jailwarden/engine/engine.h"
#include "jailwarden/racct/snapshot.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::engine {
namespace {

using rctl::Resource;

class NullSink : public ActionSink {
 public:
  void OnLog(std::string_view) override { ++n; }
  void OnDevctl(std::string_view) override { ++n; }
  void OnSignal(const SignalRequest&) override { ++n; }
  void OnThrottle(const ThrottleRequest&) override { ++n; }
  int64_t n = 0;
};

// A realistic per-jail rule mix: the first eight are what a jail template
// sets (deny limits, pcpu deny, I/O throttles, a log and a devctl rule); the
// rest are extra log thresholds over the remaining resources.
struct RuleShape {
  Resource resource;
  rctl::Action action;
};
constexpr RuleShape kShapes[] = {
    {Resource::kMemoryuse, rctl::Action::kDeny},
    {Resource::kMaxproc, rctl::Action::kDeny},
    {Resource::kPcpu, rctl::Action::kDeny},
    {Resource::kOpenfiles, rctl::Action::kDeny},
    {Resource::kVmemoryuse, rctl::Action::kLog},
    {Resource::kReadbps, rctl::Action::kThrottle},
    {Resource::kNthr, rctl::Action::kDevctl},
    {Resource::kWritebps, rctl::Action::kThrottle},
};

struct Fixture {
  std::shared_ptr<const racct::Snapshot> snap;
  std::vector<rctl::Rule> rules;
};

std::shared_ptr<const racct::Snapshot> MakeSnapshot(int jails) {
  auto table = std::make_shared<racct::JailTable>();
  table->generation = 1;
  for (int j = 0; j < jails; ++j) {
    racct::JailInfo info;
    info.name = "jail" + std::to_string(j);
    info.jid = j + 1;
    table->jails.push_back(std::move(info));
  }
  table->Index();
  auto tick = std::make_shared<racct::TickData>();
  tick->seq = 1;
  tick->jails = table;
  tick->usage.resize(jails);
  tick->present.assign(jails, racct::ResourceMask().set());
  tick->stale.assign(jails, 0);
  for (int j = 0; j < jails; ++j) {
    for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
      tick->usage[j][r] = 1000 + (j * 31 + static_cast<int>(r) * 7) % 1000;
    }
  }
  auto slow = std::make_shared<racct::SlowData>();
  slow->jails = table;
  slow->process_begin.assign(jails + 1, 0);
  auto snap = std::make_shared<racct::Snapshot>();
  snap->seq = 1;
  snap->tick = tick;
  snap->slow = slow;
  racct::HistoryOptions ho;
  ho.ticks = 1;
  racct::HistoryRecorder history(ho);
  history.Append(*tick);
  snap->history = history.view();
  return snap;
}

// `distinct`: every jail's amounts differ (no two jails share a threshold
// row), the worst case for the engine's shared threshold patterns.
const Fixture& GetFixture(int jails, int rules_per_jail, bool distinct = false) {
  static auto* cache = new std::map<std::tuple<int, int, bool>, Fixture>();
  auto key = std::make_tuple(jails, rules_per_jail, distinct);
  auto it = cache->find(key);
  if (it != cache->end()) {
    return it->second;
  }
  Fixture f;
  f.snap = MakeSnapshot(jails);
  f.rules.reserve(static_cast<std::size_t>(jails) * rules_per_jail);
  for (int j = 0; j < jails; ++j) {
    for (int k = 0; k < rules_per_jail; ++k) {
      rctl::Rule rule;
      rule.subject = rctl::SubjectType::kJail;
      rule.subject_id = "jail" + std::to_string(j);
      rule.per = rctl::SubjectType::kJail;
      if (k < 8) {
        rule.resource = kShapes[k].resource;
        rule.action = kShapes[k].action;
      } else {
        rule.resource = rctl::ResourceAt(static_cast<std::size_t>(k) % 25);
        rule.action = rctl::Action::kLog;
      }
      // Every amount above the usage (< 2000): the steady state, where
      // nothing is exceeded and the engine must only prove it.
      rule.amount = 1000000 + k + (distinct ? j : 0);
      if (rctl::IsInMillions(*rule.resource)) {
        rule.amount *= 1000000;
      }
      f.rules.push_back(std::move(rule));
    }
  }
  return cache->emplace(key, std::move(f)).first->second;
}

// One pass over every usage value: the memory traffic any evaluation must
// at least pay. Explicit SIMD (the best kernel this CPU runs), whatever the
// build type.
int64_t StreamOnce(const racct::Snapshot& snap,
                   engine::internal::ScanKernel kernel =
                       engine::internal::BestScanKernel()) {
  const std::vector<rctl::UsageVector>& u = snap.tick->usage;
  return engine::internal::SumValues(u.empty() ? nullptr : u.front().data(),
                                     u.size() * rctl::kResourceCount, kernel);
}

std::size_t UsageBytes(const racct::Snapshot& snap) {
  return snap.tick->usage.size() * sizeof(rctl::UsageVector);
}

benchmark::Counter GBps(benchmark::State& state, std::size_t bytes) {
  return benchmark::Counter(
      static_cast<double>(bytes) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}

// This thread's CPU time in ns. The machine is shared (2 vCPUs, other
// builds running), so ratios use CPU time, not wall time.
double CpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Best of 5 runs of many passes, in CPU ns per pass.
template <typename F>
double BestNsPerPass(std::size_t jails, F&& pass) {
  double best = 1e300;
  const int passes = std::max<int>(2, 200000 / static_cast<int>(jails + 1));
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = CpuNs();
    for (int i = 0; i < passes; ++i) {
      pass();
    }
    best = std::min(best, (CpuNs() - t0) / passes);
  }
  return best;
}

double BaselineNsPerPass(const racct::Snapshot& snap) {
  return BestNsPerPass(snap.tick->usage.size(), [&] {
    benchmark::DoNotOptimize(StreamOnce(snap));
    benchmark::ClobberMemory();
  });
}

void BM_Engine_BaselineStream(benchmark::State& state) {
  const Fixture& f = GetFixture(static_cast<int>(state.range(0)), 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(StreamOnce(*f.snap));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["GB/s"] = GBps(state, UsageBytes(*f.snap));
  state.counters["bytes"] = static_cast<double>(UsageBytes(*f.snap));
}

// The same stream through the portable kernel (what a target without
// AVX2 runs; GCC vector extensions).
void BM_Engine_BaselineStreamPortable(benchmark::State& state) {
  const Fixture& f = GetFixture(static_cast<int>(state.range(0)), 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        StreamOnce(*f.snap, engine::internal::ScanKernel::kPortable));
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = GBps(state, UsageBytes(*f.snap));
}

// The machine's bandwidth for the same working set: glibc's memcpy of the
// usage bytes into a buffer of the same size (GB/s of bytes read).
void BM_Engine_Memcpy(benchmark::State& state) {
  const Fixture& f = GetFixture(static_cast<int>(state.range(0)), 1);
  const std::size_t bytes = UsageBytes(*f.snap);
  std::vector<char> dst(bytes);
  for (auto _ : state) {
    std::memcpy(dst.data(), f.snap->tick->usage.data(), bytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = GBps(state, bytes);
}

void BM_Engine_Evaluate(benchmark::State& state) {
  const int jails = static_cast<int>(state.range(0));
  const int per_jail = static_cast<int>(state.range(1));
  const Fixture& f = GetFixture(jails, per_jail);
  NullSink sink;
  Engine engine(sink);
  if (!engine.Compile(std::span<const rctl::Rule>(f.rules), f.snap->tick->jails)
           .ok()) {
    state.SkipWithError("compile failed");
    return;
  }
  engine.Evaluate(*f.snap);  // warm up (bind, first-touch)
  for (auto _ : state) {
    const EvaluationResult& r = engine.Evaluate(*f.snap);
    benchmark::DoNotOptimize(r.checks);
  }
  // The ratio compares best-of-5 CPU time of both, measured back to back.
  const double eval_ns = BestNsPerPass(static_cast<std::size_t>(jails), [&] {
    benchmark::DoNotOptimize(engine.Evaluate(*f.snap).checks);
  });
  const double base_ns = BaselineNsPerPass(*f.snap);
  state.counters["eval_ns"] = eval_ns;
  state.counters["stream_ns"] = base_ns;
  state.counters["ratio"] = eval_ns / base_ns;
  // The usage bytes per evaluation time: comparable with the stream's GB/s.
  state.counters["usage_GB/s"] = static_cast<double>(UsageBytes(*f.snap)) / eval_ns;
  state.counters["checks"] = static_cast<double>(engine.compile_info().jail_checks);
  state.SetItemsProcessed(state.iterations() *
                          static_cast<int64_t>(engine.compile_info().jail_checks));
  if (sink.n != 0) {
    state.SkipWithError("steady state acted");
  }
}

// Evaluate at 8 rules per jail with every jail's amounts distinct: no
// threshold pattern is shared, so the thresholds cost as much memory
// traffic as the usage (the honest worst case beside the template case).
void BM_Engine_EvaluateDistinctAmounts(benchmark::State& state) {
  const int jails = static_cast<int>(state.range(0));
  const Fixture& f = GetFixture(jails, 8, /*distinct=*/true);
  NullSink sink;
  Engine engine(sink);
  if (!engine.Compile(std::span<const rctl::Rule>(f.rules), f.snap->tick->jails)
           .ok()) {
    state.SkipWithError("compile failed");
    return;
  }
  engine.Evaluate(*f.snap);
  for (auto _ : state) {
    benchmark::DoNotOptimize(engine.Evaluate(*f.snap).checks);
  }
  const double eval_ns = BestNsPerPass(static_cast<std::size_t>(jails), [&] {
    benchmark::DoNotOptimize(engine.Evaluate(*f.snap).checks);
  });
  const double base_ns = BaselineNsPerPass(*f.snap);
  state.counters["eval_ns"] = eval_ns;
  state.counters["stream_ns"] = base_ns;
  state.counters["ratio"] = eval_ns / base_ns;
  if (sink.n != 0) {
    state.SkipWithError("steady state acted");
  }
}

// The same with 1 % of the jails over their log and deny amounts (latched
// after the first evaluation): the slow path's share.
void BM_Engine_EvaluateOnePercentOver(benchmark::State& state) {
  const int jails = static_cast<int>(state.range(0));
  const Fixture& f = GetFixture(jails, 8);
  auto snap = std::make_shared<racct::Snapshot>(*f.snap);
  auto tick = std::make_shared<racct::TickData>(*f.snap->tick);
  for (int j = 0; j < jails; j += 100) {
    tick->usage[j][rctl::Index(Resource::kMemoryuse)] = 2000000;
    tick->usage[j][rctl::Index(Resource::kVmemoryuse)] = 2000000;
  }
  snap->tick = tick;
  NullSink sink;
  Engine engine(sink);
  if (!engine.Compile(std::span<const rctl::Rule>(f.rules), tick->jails).ok()) {
    state.SkipWithError("compile failed");
    return;
  }
  engine.Evaluate(*snap);
  for (auto _ : state) {
    benchmark::DoNotOptimize(engine.Evaluate(*snap).checks);
  }
  const double eval_ns = BestNsPerPass(static_cast<std::size_t>(jails), [&] {
    benchmark::DoNotOptimize(engine.Evaluate(*snap).checks);
  });
  const double base_ns = BaselineNsPerPass(*snap);
  state.counters["eval_ns"] = eval_ns;
  state.counters["stream_ns"] = base_ns;
  state.counters["ratio"] = eval_ns / base_ns;
}

// Evaluate of a snapshot carrying new slow-tier data (once per slow pass,
// 1 s by default): the re-bind of process links plus the evaluation.
void BM_Engine_EvaluateAfterSlowPass(benchmark::State& state) {
  const int jails = static_cast<int>(state.range(0));
  const Fixture& f = GetFixture(jails, 8);
  NullSink sink;
  Engine engine(sink);
  if (!engine.Compile(std::span<const rctl::Rule>(f.rules), f.snap->tick->jails)
           .ok()) {
    state.SkipWithError("compile failed");
    return;
  }
  engine.Evaluate(*f.snap);
  std::vector<std::shared_ptr<racct::Snapshot>> snaps(2);
  for (auto& s : snaps) {
    s = std::make_shared<racct::Snapshot>(*f.snap);
    auto slow = std::make_shared<racct::SlowData>(*f.snap->slow);
    s->slow = slow;
  }
  std::size_t k = 0;
  auto pass = [&] {
    benchmark::DoNotOptimize(engine.Evaluate(*snaps[k ^= 1]).checks);
  };
  for (auto _ : state) {
    pass();
  }
  const double eval_ns = BestNsPerPass(static_cast<std::size_t>(jails), pass);
  const double base_ns = BaselineNsPerPass(*f.snap);
  state.counters["eval_ns"] = eval_ns;
  state.counters["stream_ns"] = base_ns;
  state.counters["ratio"] = eval_ns / base_ns;
}

// Which scan kernel this run used, in the context block.
const bool kKernelContext = [] {
  benchmark::AddCustomContext(
      "engine_scan_kernel",
      std::string(engine::internal::ScanKernelName(
          engine::internal::BestScanKernel())));
  return true;
}();

BENCHMARK(BM_Engine_BaselineStream)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK(BM_Engine_BaselineStreamPortable)->Arg(1000)->Arg(10000);
BENCHMARK(BM_Engine_Memcpy)->Arg(1000)->Arg(10000);
BENCHMARK(BM_Engine_Evaluate)
    ->ArgsProduct({{1, 100, 1000, 10000}, {1, 8, 32}})
    ->ArgNames({"jails", "rules"});
BENCHMARK(BM_Engine_EvaluateDistinctAmounts)->Arg(1000)->Arg(10000)->ArgName("jails");
BENCHMARK(BM_Engine_EvaluateOnePercentOver)->Arg(1000)->Arg(10000)->ArgName("jails");
BENCHMARK(BM_Engine_EvaluateAfterSlowPass)->Arg(1000)->Arg(10000)->ArgName("jails");

}  // namespace
}  // namespace jailwarden::engine

BENCHMARK_MAIN();
