// Jail-wide denies of per-process resources (openfiles, vmemoryuse): the
// kernel has no jail-wide cap, so the sampler sums the jail's processes and,
// while the sum is at or over the amount, the enforcer lowers every
// process's soft rlimit to its current use (LinuxLimitEnforcer::
// SetSampledDenies). Several probes in a real jail reach the amount
// together; the next charge must fail with FreeBSD's errno (EMFILE,
// ENOMEM) within one slow-tier interval, and succeed again once the sum is
// back under the amount (fds closed, a process exited). SlowTierLoop stands
// for the daemon's sampler + engine + worker: one ReadSlow per interval,
// "usage >= amount" as the engine decides it, SetSampledDenies on the
// result.

#include <sys/resource.h>

#include <atomic>
#include <fstream>
#include <mutex>

#include "jailwarden/base/strings.h"
#include "resources_env.h"

namespace jailwarden::testing {
namespace {

using platform::Fidelity;
using rctl::Resource;
using ::jailwarden::StrCat;

constexpr int64_t kMiB = 1 << 20;
constexpr absl::Duration kInterval = absl::Milliseconds(250);

class SlowTierLoop {
 public:
  SlowTierLoop(platform::LinuxUsageReader& reader, platform::LinuxLimitEnforcer& enforcer,
               platform::JailRef ref, rctl::Rule rule)
      : reader_(reader), enforcer_(enforcer), ref_(std::move(ref)), rule_(std::move(rule)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~SlowTierLoop() {
    stop_ = true;
    thread_.join();
    EXPECT_TRUE(enforcer_.SetSampledDenies({}).ok());
  }

  // Waits until `n` more passes have completed (bounded).
  void WaitPasses(int n) {
    const int64_t target = passes_.load() + n;
    const absl::Time end = absl::Now() + absl::Seconds(10);
    while (passes_.load() < target && absl::Now() < end) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_GE(passes_.load(), target);
  }
  int64_t usage() {
    std::lock_guard<std::mutex> l(mu_);
    return usage_;
  }
  bool active() {
    std::lock_guard<std::mutex> l(mu_);
    return active_;
  }
  int failures() const { return failures_.load(); }

 private:
  void Run() {
    const std::size_t idx = rctl::Index(*rule_.resource);
    while (!stop_) {
      platform::RawUsage u;
      if (!reader_.ReadSlow(ref_, u, nullptr).ok() || !u.present[idx]) {
        ++failures_;
      } else {
        const bool active = u.value[idx] >= rule_.amount;
        std::vector<platform::SampledDeny> denies;
        if (active) {
          denies.push_back(platform::SampledDeny{rule_, ref_.name, -1});
        }
        if (!enforcer_.SetSampledDenies(denies).ok()) {
          ++failures_;
        }
        std::lock_guard<std::mutex> l(mu_);
        usage_ = u.value[idx];
        active_ = active;
      }
      ++passes_;
      absl::SleepFor(kInterval);
    }
  }

  platform::LinuxUsageReader& reader_;
  platform::LinuxLimitEnforcer& enforcer_;
  platform::JailRef ref_;
  rctl::Rule rule_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> passes_{0};
  std::atomic<int> failures_{0};
  std::mutex mu_;
  int64_t usage_ = -1;
  bool active_ = false;
};

rlim_t SoftLimit(int64_t pid, int resource) {
  struct rlimit lim {};
  EXPECT_EQ(prlimit(static_cast<pid_t>(pid), static_cast<__rlimit_resource>(resource), nullptr,
                    &lim),
            0);
  return lim.rlim_cur;
}

// The host pid of the process that is `ns_pid` in the jail's pid namespace
// (the probes print getpid()), from the last NSpid field; -1 if none.
int64_t HostPid(const std::vector<platform::ProcessUsage>& procs, int64_t ns_pid) {
  for (const auto& p : procs) {
    std::ifstream in(StrCat("/proc/", p.pid, "/status"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("NSpid:", 0) == 0) {
        const std::size_t last = line.find_last_of(" \t");
        if (std::strtoll(line.c_str() + last + 1, nullptr, 10) == ns_pid &&
            p.comm == "rctl_probe") {
          return p.pid;
        }
      }
    }
  }
  return -1;
}

// The reading of the process `pid` in a slow-tier process list, or -1.
int64_t ProcessReading(const std::vector<platform::ProcessUsage>& procs, int64_t pid,
                       Resource r) {
  for (const auto& p : procs) {
    if (p.pid == pid) {
      return p.usage.value[rctl::Index(r)];
    }
  }
  return -1;
}

TEST_F(ResourceTest, OpenfilesJailSumDenyIsEnforcedAtTheNextSlowPass) {
  StartJail("rsdfd");
  const int64_t base = Get(Slow(), Resource::kOpenfiles);
  // Three probes holding 10 descriptors each (plus stdin/stdout/stderr).
  std::vector<std::unique_ptr<ProbeRun>> h;
  std::vector<int64_t> pid;
  for (int i = 0; i < 3; ++i) {
    h.push_back(std::make_unique<ProbeRun>(*manager_, name_,
                                           std::vector<std::string>{"hold", "10", "0"}));
    const std::string line = h.back()->LineStarting("hold");
    ASSERT_EQ(Field(line, "errno"), 0) << line;
    pid.push_back(Field(line, "pid"));
  }
  std::vector<platform::ProcessUsage> procs;
  const int64_t sum = Get(Slow(&procs), Resource::kOpenfiles);
  for (int64_t& p : pid) {
    p = HostPid(procs, p);
    ASSERT_GT(p, 0) << "probe not in the slow tier's list";
  }
  int64_t probes = 0;
  for (int64_t p : pid) {
    const int64_t fds = ProcessReading(procs, p, Resource::kOpenfiles);
    EXPECT_GE(fds, 13) << "10 + stdin/stdout/stderr";
    EXPECT_LE(fds, 15) << "tolerance: 2 inherited descriptors";
    probes += fds;
  }
  Measured("openfiles_jail_sum_base", base);
  Measured("openfiles_jail_sum_with_3_probes", sum);
  EXPECT_GE(sum, base + probes) << "the sum covers every probe";
  EXPECT_LE(sum, base + probes + 6) << "tolerance: one exec helper per running probe";

  // The amount is 6 more than now: two more opens in each probe reach it.
  const int64_t amount = sum + 6;
  auto e = Apply({StrCat("openfiles:deny=", amount)});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].fidelity, Fidelity::kSampled);
  EXPECT_NE(e[0].detail.find("soft RLIMIT_NOFILE lowered to its current use"),
            std::string::npos)
      << e[0].detail;
  SlowTierLoop loop(*reader_, *enforcer_, ref_, e[0].rule);
  loop.WaitPasses(1);
  EXPECT_FALSE(loop.active());
  int opened[3] = {10, 10, 10};
  for (int k = 0; k < 6; ++k) {
    ASSERT_EQ(Field(h[k % 3]->Command('o'), "errno"), 0) << "under the amount: " << k;
    ++opened[k % 3];
  }
  const absl::Time reached = absl::Now();
  // Open until refused: what the probes get between reaching the amount
  // and the next slow pass is the overshoot.
  int overshoot = 0;
  absl::Time refused = absl::InfinitePast();
  for (int k = 0; k < 200; ++k) {
    const std::string r = h[k % 3]->Command('o');
    if (Field(r, "errno") == EMFILE) {
      refused = absl::Now();
      break;
    }
    ASSERT_EQ(Field(r, "errno"), 0) << r;
    ++overshoot;
    ++opened[k % 3];
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_NE(refused, absl::InfinitePast()) << "never EMFILE";
  const double lag_ms = absl::ToDoubleMilliseconds(refused - reached);
  Measured("openfiles_deny_lag_ms", lag_ms);
  Measured("openfiles_deny_overshoot_fds", overshoot);
  Measured("slow_interval_ms", absl::ToDoubleMilliseconds(kInterval));
  EXPECT_LE(lag_ms, absl::ToDoubleMilliseconds(kInterval) + 250)
      << "one slow interval + one pass + 20 ms between tries";
  EXPECT_TRUE(loop.active());
  EXPECT_GE(loop.usage(), amount);
  EXPECT_LE(loop.usage(), amount + overshoot + 2) << "sampled = what the probes opened";
  // Every probe is clamped now, at its lowest free descriptor; pid 1 never.
  loop.WaitPasses(1);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Field(h[i]->Command('o'), "errno"), EMFILE) << "probe " << i;
  }
  std::vector<platform::LinuxLimitEnforcer::ClampInfo> clamps =
      enforcer_->SampledDenyClamps(name_);
  for (const auto& c : clamps) {
    EXPECT_NE(c.pid, instance_.init_pid) << "the jail's pid 1 is never clamped";
    EXPECT_EQ(c.resource, RLIMIT_NOFILE);
    EXPECT_EQ(c.saved_soft, static_cast<rlim_t>(amount)) << "RLIMIT_NOFILE=amount";
  }
  for (int64_t p : pid) {
    EXPECT_LT(SoftLimit(p, RLIMIT_NOFILE), static_cast<rlim_t>(amount));
  }
  // A process started while the deny is active is unclamped until the
  // next slow pass, then refused too.
  {
    ProbeRun late(*manager_, name_, {"hold", "0", "0"});
    const int64_t late_ns_pid = Field(late.LineStarting("hold"), "pid");
    std::vector<platform::ProcessUsage> now;
    Slow(&now);
    const int64_t late_pid = HostPid(now, late_ns_pid);
    ASSERT_GT(late_pid, 0);
    loop.WaitPasses(2);
    EXPECT_EQ(Field(late.Command('o'), "errno"), EMFILE);
    EXPECT_LE(SoftLimit(late_pid, RLIMIT_NOFILE), 4u) << "stdio + its one fd at most";
    late.Command('q');
    EXPECT_EQ(late.Finish(), 0);
  }

  // Back under the amount: probe 0 exits, probe 1 closes its descriptors.
  h[0]->Command('q');
  EXPECT_EQ(h[0]->Finish(), 0);
  EXPECT_EQ(Field(h[1]->Command('c'), "n"), opened[1]);
  const absl::Time under = absl::Now();
  absl::Time allowed = absl::InfinitePast();
  for (int k = 0; k < 200; ++k) {
    const std::string r = h[2]->Command('o');
    if (Field(r, "errno") == 0) {
      allowed = absl::Now();
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_NE(allowed, absl::InfinitePast()) << "still EMFILE under the amount";
  Measured("openfiles_deny_lift_lag_ms", absl::ToDoubleMilliseconds(allowed - under));
  loop.WaitPasses(1);
  EXPECT_FALSE(loop.active());
  EXPECT_TRUE(enforcer_->SampledDenyClamps(name_).empty());
  EXPECT_EQ(SoftLimit(pid[1], RLIMIT_NOFILE), static_cast<rlim_t>(amount))
      << "the soft limit saved at the clamp is back";
  EXPECT_EQ(Field(h[1]->Command('o'), "errno"), 0);
  EXPECT_EQ(loop.failures(), 0);
  for (int i = 1; i < 3; ++i) {
    h[i]->Command('q');
    EXPECT_EQ(h[i]->Finish(), 0);
  }
}

TEST_F(ResourceTest, VmemoryuseJailSumDenyIsEnforcedAtTheNextSlowPass) {
  StartJail("rsdvm");
  std::vector<std::unique_ptr<ProbeRun>> h;
  std::vector<int64_t> pid;
  for (int i = 0; i < 3; ++i) {
    h.push_back(std::make_unique<ProbeRun>(*manager_, name_,
                                           std::vector<std::string>{"hold", "0", "64"}));
    const std::string line = h.back()->LineStarting("hold");
    ASSERT_EQ(Field(line, "errno"), 0) << line;
    pid.push_back(Field(line, "pid"));
  }
  std::vector<platform::ProcessUsage> procs;
  const int64_t sum = Get(Slow(&procs), Resource::kVmemoryuse);
  for (int64_t& p : pid) {
    p = HostPid(procs, p);
    ASSERT_GT(p, 0) << "probe not in the slow tier's list";
  }
  for (int64_t p : pid) {
    const int64_t vm = ProcessReading(procs, p, Resource::kVmemoryuse);
    EXPECT_GE(vm, 64 * kMiB);
    EXPECT_LE(vm, 64 * kMiB + 8 * kMiB) << "tolerance: static binary + stack, 8 MiB";
  }
  Measured("vmemoryuse_jail_sum_with_3_probes", sum);

  const int64_t amount = sum + 3 * kMiB;
  auto e = Apply({StrCat("vmemoryuse:deny=", amount)});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].fidelity, Fidelity::kSampled);
  EXPECT_NE(e[0].detail.find("ENOMEM"), std::string::npos) << e[0].detail;
  SlowTierLoop loop(*reader_, *enforcer_, ref_, e[0].rule);
  loop.WaitPasses(1);
  EXPECT_FALSE(loop.active());
  for (int k = 0; k < 3; ++k) {
    ASSERT_EQ(Field(h[k]->Command('m'), "errno"), 0) << "under the amount";
  }
  const absl::Time reached = absl::Now();
  int overshoot = 0;
  absl::Time refused = absl::InfinitePast();
  for (int k = 0; k < 200; ++k) {
    const std::string r = h[k % 3]->Command('m');
    if (Field(r, "errno") == ENOMEM) {
      refused = absl::Now();
      break;
    }
    ASSERT_EQ(Field(r, "errno"), 0) << r;
    ++overshoot;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_NE(refused, absl::InfinitePast()) << "never ENOMEM";
  const double lag_ms = absl::ToDoubleMilliseconds(refused - reached);
  Measured("vmemoryuse_deny_lag_ms", lag_ms);
  Measured("vmemoryuse_deny_overshoot_mib", overshoot);
  EXPECT_LE(lag_ms, absl::ToDoubleMilliseconds(kInterval) + 250);
  EXPECT_TRUE(loop.active());
  // The sampler saw exactly the mappings the probes added.
  EXPECT_EQ(loop.usage(), amount + overshoot * kMiB) << "VmSize grows by 1 MiB per map";
  loop.WaitPasses(1);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Field(h[i]->Command('m'), "errno"), ENOMEM) << "probe " << i;
  }
  // Probe 0 exits: 65+ MiB fewer, back under.
  h[0]->Command('q');
  EXPECT_EQ(h[0]->Finish(), 0);
  const absl::Time under = absl::Now();
  absl::Time allowed = absl::InfinitePast();
  for (int k = 0; k < 200; ++k) {
    if (Field(h[1]->Command('m'), "errno") == 0) {
      allowed = absl::Now();
      break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_NE(allowed, absl::InfinitePast()) << "still ENOMEM under the amount";
  Measured("vmemoryuse_deny_lift_lag_ms", absl::ToDoubleMilliseconds(allowed - under));
  loop.WaitPasses(1);
  EXPECT_TRUE(enforcer_->SampledDenyClamps(name_).empty());
  EXPECT_EQ(SoftLimit(pid[2], RLIMIT_AS), static_cast<rlim_t>(amount))
      << "RLIMIT_AS=amount as saved before the clamp";
  EXPECT_EQ(loop.failures(), 0);
  for (int i = 1; i < 3; ++i) {
    h[i]->Command('q');
    EXPECT_EQ(h[i]->Finish(), 0);
  }
}

}  // namespace
}  // namespace jailwarden::testing
