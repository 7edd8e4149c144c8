// One racct::Sampler tick (fast tier) over a fake reader, for {1, 100,
// 1,000, 10,000} jails, against a same-run baseline that makes exactly the
// same ReadFast calls in a plain loop. The difference is the tick's own
// overhead (rates, snapshot, history, publish); reported per jail as
// `overhead_ns_per_jail` and as `ratio` (tick / baseline).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "fakes/fake_clock.h"
#include "jailwarden/base/clock.h"
#include "jailwarden/racct/sampler.h"

namespace jailwarden::racct {
namespace {

using rctl::Resource;

// A reader whose fast read copies a prepared reading: every resource
// present, cputime and the four I/O counters as running totals that grow.
class BenchReader : public platform::UsageReader {
 public:
  explicit BenchReader(int jails) {
    for (int j = 0; j < jails; ++j) {
      platform::JailRef ref;
      ref.name = "jail" + std::to_string(j);
      ref.jid = j + 1;
      ref.handle = static_cast<uint64_t>(j);
      refs_.push_back(ref);
    }
    proto_.present.set();
    for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
      proto_.value[r] = 1000 + static_cast<int64_t>(r);
    }
    proto_.present[rctl::Index(Resource::kPcpu)] = false;  // derived
    for (Resource r : {Resource::kCputime, Resource::kReadbps,
                       Resource::kWritebps, Resource::kReadiops,
                       Resource::kWriteiops}) {
      proto_.cumulative[rctl::Index(r)] = true;
    }
  }
  absl::StatusOr<std::vector<platform::JailRef>> ListJails() override {
    return refs_;
  }
  absl::Status ReadFast(const platform::JailRef& jail,
                        platform::RawUsage& out) override {
    out = proto_;
    const int64_t grow = static_cast<int64_t>(jail.handle) + ++calls_;
    out.value[rctl::Index(Resource::kCputime)] += grow;
    out.value[rctl::Index(Resource::kReadbps)] += grow * 512;
    return absl::OkStatus();
  }
  absl::Status ReadSlow(const platform::JailRef&, platform::RawUsage& out,
                        std::vector<platform::ProcessUsage>*) override {
    out.present.reset();
    return absl::OkStatus();
  }
  platform::ResourceMask Supported() const override {
    return platform::ResourceMask().set();
  }
  const std::vector<platform::JailRef>& refs() const { return refs_; }

 private:
  std::vector<platform::JailRef> refs_;
  platform::RawUsage proto_;
  int64_t calls_ = 0;
};

double CpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

template <typename F>
double BestNsPerPass(std::size_t jails, F&& pass) {
  double best = 1e300;
  const int passes = std::max<int>(2, 100000 / static_cast<int>(jails + 1));
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = CpuNs();
    for (int i = 0; i < passes; ++i) {
      pass();
    }
    best = std::min(best, (CpuNs() - t0) / passes);
  }
  return best;
}

SamplerOptions BenchOptions() {
  SamplerOptions o;
  o.interval = absl::Milliseconds(100);
  o.slow_interval = absl::Hours(1);  // fast tier only after the first tick
  o.history = absl::Seconds(1);
  o.ncpu = 2;
  return o;
}

void BM_Sampler_BaselineReads(benchmark::State& state) {
  const int jails = static_cast<int>(state.range(0));
  BenchReader reader(jails);
  platform::RawUsage raw;
  for (auto _ : state) {
    for (const platform::JailRef& ref : reader.refs()) {
      benchmark::DoNotOptimize(reader.ReadFast(ref, raw));
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * jails);
}

void BM_Sampler_Tick(benchmark::State& state) {
  const int jails = static_cast<int>(state.range(0));
  BenchReader reader(jails);
  FakeClock clock;
  Sampler sampler(reader, clock, BenchOptions());
  sampler.TickOnce();  // slow tier, jail table
  auto tick = [&] {
    clock.Advance(absl::Milliseconds(100));  // a racctd pass every 10 ticks
    benchmark::DoNotOptimize(sampler.TickOnce());
  };
  for (auto _ : state) {
    tick();
  }
  const double tick_ns = BestNsPerPass(static_cast<std::size_t>(jails), tick);
  platform::RawUsage raw;
  const double base_ns = BestNsPerPass(static_cast<std::size_t>(jails), [&] {
    for (const platform::JailRef& ref : reader.refs()) {
      benchmark::DoNotOptimize(reader.ReadFast(ref, raw));
    }
    benchmark::ClobberMemory();
  });
  state.counters["tick_ns"] = tick_ns;
  state.counters["reads_ns"] = base_ns;
  state.counters["ratio"] = tick_ns / base_ns;
  state.counters["overhead_ns_per_jail"] = (tick_ns - base_ns) / jails;
  state.SetItemsProcessed(state.iterations() * jails);
}

BENCHMARK(BM_Sampler_BaselineReads)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000);
BENCHMARK(BM_Sampler_Tick)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000)->ArgName("jails");

}  // namespace
}  // namespace jailwarden::racct

BENCHMARK_MAIN();
