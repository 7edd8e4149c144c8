// One whole daemon tick at 1,000 and 10,000 jails: the sampler over a
// scripted reader (fast tier every tick, slow tier with two processes per
// jail every tenth tick, as the daemon's defaults: 100 ms / 1 s), its
// snapshot, history (10 s or 60 s) and publish, then Engine::Evaluate over eight
// template rules per jail in the tick callback, as TickRouter runs it.
//
// Reports per tick: CPU time (this thread's, so other load on the machine
// does not count), split into sampler and engine; heap allocations and
// bytes (a replaced global operator new, in this binary only), over the
// fast ticks and over whole slow-tier periods; and resident memory after
// warm-up (RSS growth since before the set-up, and the process's RSS).
//
// JW_TICK_BENCH_SITES=fast (or =slow) also prints, once per size, the call
// stacks of the allocations made by one warm fast (or slow-tier) tick, the
// first 4096 of them, as object+offset for addr2line.

#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "fakes/fake_clock.h"
#include "jailwarden/engine/engine.h"
#include "jailwarden/racct/sampler.h"
#include "jailwarden/rctl/kernel_form.h"

namespace {

// Allocation counters (relaxed: the figures are read between ticks on the
// same thread; other threads' allocations would count too, and there are
// none while ticking).
std::atomic<uint64_t> g_allocs{0};
std::atomic<uint64_t> g_bytes{0};
// Call-site tracing for one tick: stacks of up to 8 frames, at most 4096.
bool g_trace = false;
thread_local bool t_in_trace = false;
struct Site {
  void* frames[8];
  int depth;
  std::size_t bytes;
};
Site g_sites[4096];
std::atomic<int> g_nsites{0};

void Count(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(n, std::memory_order_relaxed);
  if (g_trace && !t_in_trace) {
    t_in_trace = true;
    const int i = g_nsites.fetch_add(1, std::memory_order_relaxed);
    if (i < 4096) {
      g_sites[i].depth = backtrace(g_sites[i].frames, 8);
      g_sites[i].bytes = n;
    }
    t_in_trace = false;
  }
}

}  // namespace

// The replacements pair malloc with free themselves; GCC sees the inlined
// new-expression inside them and warns about a mismatch that is not one.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  Count(n);
  if (void* p = std::malloc(n == 0 ? 1 : n)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  Count(n);
  const std::size_t al = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(al, (n + al - 1) / al * al)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return operator new(n, a);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

namespace jailwarden {
namespace {

using rctl::Resource;

// Scripted usage: every resource present, the counters growing by a
// per-jail step each read, the gauges fixed per jail; two processes per
// jail in the slow tier.
class ScriptedReader : public platform::UsageReader {
 public:
  explicit ScriptedReader(int jails) {
    for (int j = 0; j < jails; ++j) {
      platform::JailRef ref;
      ref.name = "jail" + std::to_string(j);
      ref.jid = j + 1;
      ref.handle = static_cast<uint64_t>(j);
      refs_.push_back(ref);
    }
    proto_.present.set();
    proto_.present[rctl::Index(Resource::kPcpu)] = false;  // derived
    for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
      proto_.value[r] = 1000 + static_cast<int64_t>(r);
    }
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
    const int64_t step = static_cast<int64_t>(jail.handle % 7) + 1;
    const int64_t n = ++reads_;
    out.value[rctl::Index(Resource::kCputime)] += n * step;
    out.value[rctl::Index(Resource::kReadbps)] += n * step * 512;
    out.value[rctl::Index(Resource::kMemoryuse)] +=
        static_cast<int64_t>(jail.handle) * 4096;
    return absl::OkStatus();
  }
  absl::Status ReadSlow(const platform::JailRef& jail, platform::RawUsage& out,
                        std::vector<platform::ProcessUsage>* processes) override {
    out.present.reset();
    if (processes != nullptr) {
      for (int k = 0; k < 2; ++k) {
        platform::ProcessUsage p;
        p.pid = static_cast<int64_t>(jail.handle) * 2 + k + 100;
        p.ruid = 1000 + k;
        p.euid = p.ruid;
        p.comm = k == 0 ? "init" : "worker";
        p.jail = jail.name;
        p.usage = proto_;
        processes->push_back(std::move(p));
      }
    }
    return absl::OkStatus();
  }
  platform::ResourceMask Supported() const override {
    return platform::ResourceMask().set();
  }

 private:
  std::vector<platform::JailRef> refs_;
  platform::RawUsage proto_;
  int64_t reads_ = 0;
};

class NullSink : public engine::ActionSink {
 public:
  void OnLog(std::string_view) override { ++n; }
  void OnDevctl(std::string_view) override { ++n; }
  void OnSignal(const engine::SignalRequest&) override { ++n; }
  void OnThrottle(const engine::ThrottleRequest&) override { ++n; }
  int64_t n = 0;
};

// The template of bench/engine_bench.cc: eight rules per jail, amounts
// above the usage (the steady state).
std::vector<rctl::Rule> TemplateRules(int jails) {
  struct Shape {
    Resource resource;
    rctl::Action action;
  };
  constexpr Shape kShapes[] = {
      {Resource::kMemoryuse, rctl::Action::kDeny},
      {Resource::kMaxproc, rctl::Action::kDeny},
      {Resource::kPcpu, rctl::Action::kDeny},
      {Resource::kOpenfiles, rctl::Action::kDeny},
      {Resource::kVmemoryuse, rctl::Action::kLog},
      {Resource::kReadbps, rctl::Action::kThrottle},
      {Resource::kNthr, rctl::Action::kDevctl},
      {Resource::kWritebps, rctl::Action::kThrottle},
  };
  std::vector<rctl::Rule> rules;
  for (int j = 0; j < jails; ++j) {
    for (const Shape& s : kShapes) {
      rctl::Rule r;
      r.subject = rctl::SubjectType::kJail;
      r.subject_id = "jail" + std::to_string(j);
      r.per = rctl::SubjectType::kJail;
      r.resource = s.resource;
      r.action = s.action;
      r.amount = rctl::IsInMillions(s.resource) ? int64_t{90} * 1000000
                                                : int64_t{1} << 40;
      rules.push_back(std::move(r));
    }
  }
  return rules;
}

double CpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

double RssBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0;
  long resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// Distinct stacks with their counts; frames as (object, offset) for
// addr2line -e <object> -f -C <offset>.
void PrintSites(int jails, const char* kind) {
  const int n = std::min(g_nsites.load(), 4096);
  std::fprintf(stderr, "tick_bench: %d jails: %d allocations in one warm %s tick\n",
               jails, g_nsites.load(), kind);
  std::vector<bool> done(static_cast<std::size_t>(n), false);
  for (int i = 0; i < n; ++i) {
    if (done[i]) {
      continue;
    }
    int count = 0;
    std::size_t bytes = 0;
    for (int j = i; j < n; ++j) {
      if (g_sites[j].depth == g_sites[i].depth &&
          std::equal(g_sites[i].frames, g_sites[i].frames + g_sites[i].depth,
                     g_sites[j].frames)) {
        done[j] = true;
        ++count;
        bytes += g_sites[j].bytes;
      }
    }
    std::fprintf(stderr, "  %d x, %zu bytes:", count, bytes);
    for (int f = 2; f < g_sites[i].depth; ++f) {
      Dl_info info{};
      if (dladdr(g_sites[i].frames[f], &info) != 0 && info.dli_fname != nullptr) {
        std::fprintf(stderr, " %s+%#lx", info.dli_fname,
                     static_cast<unsigned long>(
                         static_cast<char*>(g_sites[i].frames[f]) -
                         static_cast<char*>(info.dli_fbase) - 1));
      }
    }
    std::fprintf(stderr, "\n");
  }
}

void BM_Tick_Whole(benchmark::State& state) {
  const int jails = static_cast<int>(state.range(0));
  const double rss0 = RssBytes();
  ScriptedReader reader(jails);
  FakeClock clock;
  racct::SamplerOptions options;  // 100 ms, 1 s (the daemon's defaults)
  options.ncpu = 2;
  // The sampler's default history is 10 s, the policy's (`server.history`,
  // what `serve` runs with) 60 s.
  options.history = absl::Seconds(state.range(1));
  racct::Sampler sampler(reader, clock, options);
  NullSink sink;
  engine::Engine engine(sink);
  const std::vector<rctl::Rule> rules = TemplateRules(jails);
  sampler.SetRules(rules);
  double engine_ns = 0;
  bool compiled = false;
  sampler.SetTickCallback([&](const std::shared_ptr<const racct::Snapshot>& snap) {
    const double t0 = CpuNs();
    if (!compiled) {
      compiled = engine.Compile(std::span<const rctl::Rule>(rules),
                                snap->tick->jails).ok();
    }
    benchmark::DoNotOptimize(engine.Evaluate(*snap).checks);
    engine_ns += CpuNs() - t0;
  });
  auto tick = [&] {
    clock.Advance(absl::Milliseconds(100));
    benchmark::DoNotOptimize(sampler.TickOnce());
  };
  // Warm-up: fill the history and a few slow passes.
  for (int64_t i = 0; i < state.range(1) * 10 + 30; ++i) {
    tick();
  }
  if (!compiled) {
    state.SkipWithError("compile failed");
    return;
  }
  if (const char* sites = std::getenv("JW_TICK_BENCH_SITES")) {
    const bool want_slow = std::string(sites) == "slow";
    // The first fast (or slow) tick from here.
    for (int i = 0; i < 11; ++i) {
      const uint64_t slow_before = sampler.Latest()->health.slow_ticks;
      g_nsites = 0;
      g_trace = true;
      tick();
      g_trace = false;
      if ((sampler.Latest()->health.slow_ticks != slow_before) == want_slow) {
        PrintSites(jails, want_slow ? "slow" : "fast");
        break;
      }
    }
  }
  for (auto _ : state) {
    tick();
  }
  // Measured over whole slow periods (10 ticks, one of them slow), and over
  // the nine fast ticks of a period alone.
  constexpr int kPeriods = 5;
  uint64_t fast_allocs = 0;
  uint64_t fast_bytes = 0;
  const uint64_t a0 = g_allocs.load();
  const uint64_t b0 = g_bytes.load();
  const double c0 = CpuNs();
  const double e0 = engine_ns;
  double fast_cpu = 0;
  double fast_engine = 0;
  for (int p = 0; p < kPeriods; ++p) {
    // Align to the period: one slow tick comes every ten.
    for (int i = 0; i < 10; ++i) {
      const racct::Snapshot* before = sampler.Latest().get();
      const uint64_t slow_before = before->health.slow_ticks;
      const uint64_t fa = g_allocs.load();
      const uint64_t fb = g_bytes.load();
      const double fc = CpuNs();
      const double fe = engine_ns;
      tick();
      if (sampler.Latest()->health.slow_ticks == slow_before) {
        fast_allocs += g_allocs.load() - fa;
        fast_bytes += g_bytes.load() - fb;
        fast_cpu += CpuNs() - fc;
        fast_engine += engine_ns - fe;
      }
    }
  }
  const double ticks = 10.0 * kPeriods;
  const double fast_ticks = 9.0 * kPeriods;
  state.counters["cpu_us_per_tick"] = (CpuNs() - c0) / ticks / 1e3;
  state.counters["engine_us_per_tick"] = (engine_ns - e0) / ticks / 1e3;
  state.counters["fast_cpu_us_per_tick"] = fast_cpu / fast_ticks / 1e3;
  state.counters["fast_engine_us_per_tick"] = fast_engine / fast_ticks / 1e3;
  state.counters["allocs_per_tick"] =
      static_cast<double>(g_allocs.load() - a0) / ticks;
  state.counters["bytes_per_tick"] =
      static_cast<double>(g_bytes.load() - b0) / ticks;
  state.counters["fast_allocs_per_tick"] = static_cast<double>(fast_allocs) / fast_ticks;
  state.counters["fast_bytes_per_tick"] = static_cast<double>(fast_bytes) / fast_ticks;
  state.counters["rss_growth_MiB"] = (RssBytes() - rss0) / (1 << 20);
  state.counters["rss_MiB"] = RssBytes() / (1 << 20);
  // One tick per 100 ms: the share of one core.
  state.counters["core_pct_at_10Hz"] = (CpuNs() - c0) / ticks / 1e9 * 10 * 100;
  if (sink.n != 0) {
    state.SkipWithError("steady state acted");
  }
}

BENCHMARK(BM_Tick_Whole)
    ->Args({1000, 10})
    ->Args({1000, 60})
    ->Args({10000, 10})
    ->Args({10000, 60})
    ->ArgNames({"jails", "history_s"})
    ->Iterations(50);

}  // namespace
}  // namespace jailwarden

BENCHMARK_MAIN();
