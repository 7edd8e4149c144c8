// Serves /metrics from a real racct::Sampler over a scripted
// FakeUsageReader, with known values, so tests/e2e/prometheus_e2e.sh can run
// Debian's real Prometheus against jailwarden's exposition, dashboards and
// alert rules before (and besides) `jailwarden serve` with real jails.
//
// Prints "PORT <n>" on stdout once listening on 127.0.0.1, then runs until
// stdin reaches EOF or `seconds` (default 300, at most 900) pass.
//
// Known values: jail "web" holds exactly 64 MiB (jail_memoryuse_bytes),
// uses 20 % pcpu and has a limit on every one of the 25 resources; jail "db"
// sits at 95 % of its 1 GiB memoryuse deny limit and keeps being denied;
// "web" keeps being throttled on writebps; jail "batch" should run but is
// stopped.

#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_usage_reader.h"
#include "jailwarden/base/clock.h"
#include "jailwarden/metrics/collector.h"
#include "jailwarden/api/mhd_server.h"
#include "jailwarden/racct/sampler.h"
#include "jailwarden/rctl/kernel_form.h"
#include "service/http_endpoints.h"

using namespace jailwarden;  // NOLINT: a test program

namespace {

rctl::Rule JailRule(const std::string& jail, rctl::Resource r, rctl::Action a, int64_t amount) {
  rctl::Rule rule;
  rule.subject = rctl::SubjectType::kJail;
  rule.subject_id = jail;
  rule.resource = r;
  rule.action = a;
  rule.amount = amount;
  rule.per = rctl::SubjectType::kJail;
  return rule;
}

bool StdinClosed() {
  pollfd p{0, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) {
    return false;
  }
  char c;
  return read(0, &c, 1) <= 0;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = argc > 1 ? std::atoi(argv[1]) : 300;
  if (seconds <= 0 || seconds > 900) {
    seconds = 300;
  }
  constexpr int64_t kMiB = 1 << 20;
  fakes::FakeUsageReader reader;
  reader.AddJail("web", 1);
  reader.AddJail("db", 2);
  for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
    reader.Set("web", rctl::ResourceAt(r), static_cast<int64_t>(r + 1));
    reader.Set("db", rctl::ResourceAt(r), static_cast<int64_t>(r + 1));
  }
  reader.Set("web", rctl::Resource::kMemoryuse, 64 * kMiB);
  reader.Set("web", rctl::Resource::kPcpu, 20000000);
  reader.Set("db", rctl::Resource::kMemoryuse, 1024 * kMiB / 100 * 95);
  reader.Set("db", rctl::Resource::kPcpu, 5000000);
  // I/O as Linux backends read it: running totals (jail_*_total counters;
  // the sampler derives jail_readbps & co. from them).
  for (const rctl::Resource r : {rctl::Resource::kReadbps, rctl::Resource::kWritebps,
                                 rctl::Resource::kReadiops, rctl::Resource::kWriteiops}) {
    reader.SetTotal("web", r, 0);
  }

  racct::SamplerOptions options;
  options.interval = absl::Milliseconds(100);
  options.slow_interval = absl::Seconds(1);
  options.history = absl::Seconds(30);
  options.ncpu = 2;
  racct::Sampler sampler(reader, MonotonicClock::Get(), options);
  if (absl::Status st = sampler.Start(); !st.ok()) {
    std::fprintf(stderr, "sampler: %s\n", std::string(st.message()).c_str());
    return 1;
  }

  // Limits: every resource on web (far above usage, pcpu 25 %), db memory.
  auto enforcements = std::make_shared<std::vector<platform::Enforcement>>();
  for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
    const rctl::Resource res = rctl::ResourceAt(r);
    const bool throttle = res == rctl::Resource::kReadbps || res == rctl::Resource::kWritebps ||
                          res == rctl::Resource::kReadiops || res == rctl::Resource::kWriteiops;
    int64_t amount = res == rctl::Resource::kMemoryuse ? 512 * kMiB : 1000000;
    if (rctl::IsInMillions(res)) {
      amount = res == rctl::Resource::kPcpu ? 25000000 : int64_t{86400} * 1000000;
    }
    enforcements->push_back(
        {JailRule("web", res, throttle ? rctl::Action::kThrottle : rctl::Action::kDeny, amount),
         platform::Fidelity::kExact, "fake", ""});
  }
  const rctl::Rule db_mem =
      JailRule("db", rctl::Resource::kMemoryuse, rctl::Action::kDeny, 1024 * kMiB);
  enforcements->push_back({db_mem, platform::Fidelity::kExact, "memory.max", ""});

  std::atomic<uint64_t> evaluations{0};
  metrics::EngineHealthRecorder engine_health;
  const absl::Time t0 = absl::Now();
  metrics::MetricsCollector collector(
      {.snapshot = [&] { return sampler.Latest(); },
       .rule_stats =
           [&] {
             const uint64_t n = evaluations.load();
             std::vector<engine::RuleTargetStats> stats(2);
             stats[0].rule = db_mem;
             stats[0].rule_text = "jail:db:memoryuse:deny=1073741824";
             stats[0].jail = "db";
             stats[0].matched = 1 + n / 50;
             stats[0].evaluations_over = n;
             stats[0].headroom = 1024 * kMiB / 100 * 5;
             stats[1].rule = (*enforcements)[rctl::Index(rctl::Resource::kWritebps)].rule;
             stats[1].rule_text = "jail:web:writebps:throttle=1000000";
             stats[1].jail = "web";
             stats[1].matched = 1 + n / 100;
             stats[1].evaluations_over = n / 2;
             stats[1].headroom = -1000;
             // Headroom in every unit the rules dashboard charts: web's
             // pcpu (percent) and maxproc (count) rules.
             for (const rctl::Resource r : {rctl::Resource::kPcpu, rctl::Resource::kMaxproc}) {
               engine::RuleTargetStats st;
               st.rule = (*enforcements)[rctl::Index(r)].rule;
               st.rule_text = rctl::FormatRule(st.rule);
               st.jail = "web";
               st.headroom = st.rule.amount / 2;
               stats.push_back(st);
             }
             return stats;
           },
       .jails =
           [&] {
             // "db" restarts 10 s after the fixture starts (the dashboards'
             // restart annotation must find it).
             const absl::Time db_start = absl::Now() - t0 < absl::Seconds(10)
                                             ? t0 - absl::Minutes(10)
                                             : t0 + absl::Seconds(10);
             std::vector<metrics::JailStatus> jails = {
                 {"web", 1, "running", t0 - absl::Hours(1), true},
                 {"db", 2, "running", db_start, true},
                 {"batch", -1, "stopped", std::nullopt, true}};
             // One of web's processes is OOM-killed 10 s after the fixture
             // starts (the OOM annotation must find it).
             jails[0].oom_kills = absl::Now() - t0 < absl::Seconds(10) ? 0 : 1;
             jails[1].oom_kills = 0;
             return jails;
           },
       .enforcements = [&] { return enforcements; },
       .engine_health = [&] { return engine_health.Read(); },
       .reloads =
           [&] {
             // One successful reload 10 s after start (the reload annotation).
             metrics::ReloadHealth h;
             if (absl::Now() - t0 >= absl::Seconds(10)) {
               h.generation = 2;
               h.last_attempt = t0 + absl::Seconds(10);
             }
             return h;
           }},
      {.backend = "fake"});
  // The daemon's own server and /metrics route (libmicrohttpd).
  api::MhdServerOptions server_options;
  api::MhdListener loopback;
  loopback.address = "127.0.0.1:0";
  server_options.listeners.push_back(loopback);
  auto server = api::MhdServer::Start(
      std::move(server_options), [&](const api::HttpRequest& req, api::ResponseWriter& out) {
        if (!service::ServeMetrics(collector, "/metrics", req, out)) {
          out.Send(404, "text/plain", "not found\n", {});
        }
      });
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  std::printf("PORT %d\n", (*server)->ports().at(0));
  std::fflush(stdout);

  engine::EvaluationResult result;
  result.checks = 2;
  const absl::Time end = absl::Now() + absl::Seconds(seconds);
  int64_t cputime_us = 0;
  while (absl::Now() < end && !StdinClosed()) {
    // 20 % of one CPU: 20 ms of CPU time per 100 ms.
    cputime_us += 20000;
    reader.Set("web", rctl::Resource::kCputime, cputime_us);
    reader.Set("web", rctl::Resource::kWallclock, cputime_us * 5);
    // 1 MB/s read in 100 op/s, 0.5 MB/s written in 50 op/s.
    reader.AddTotal("web", rctl::Resource::kReadbps, 100000);
    reader.AddTotal("web", rctl::Resource::kWritebps, 50000);
    reader.AddTotal("web", rctl::Resource::kReadiops, 10);
    reader.AddTotal("web", rctl::Resource::kWriteiops, 5);
    evaluations.fetch_add(1);
    engine_health.Record(absl::Microseconds(15), result);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  sampler.Stop();
  return 0;
}
