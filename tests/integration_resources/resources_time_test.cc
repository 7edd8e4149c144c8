// cputime, wallclock (sampler-enforced) and pcpu (CFS quota).

#include <signal.h>

#include "resources_env.h"

namespace jailwarden::testing {
namespace {

using platform::Fidelity;
using rctl::Resource;

// What the sampler-driven action does for a sampled rule, limited to the
// probe (the jail's exec helper must survive to report the exit status):
// SIGKILL each rctl_probe of the jail, all started by this test.
void KillJailProcesses(const platform::JailInstance& inst) {
  // The jail's processes are in its leaf cgroup (cgroup.h, kCgroupLeaf).
  std::string dir = inst.backend_state.at("cgroup.pids");
  if (auto leaf = inst.backend_state.find("cgroup_leaf"); leaf != inst.backend_state.end()) {
    dir += "/" + leaf->second;
  }
  for (const std::string& l : ReadLines(dir + "/cgroup.procs")) {
    int pid = std::stoi(l);
    if (pid != inst.init_pid && ReadText("/proc/" + l + "/comm") == "rctl_probe\n") {
      kill(pid, SIGKILL);
    }
  }
}

TEST_F(ResourceTest, CputimeMatchesTheProbeAndIsEnforcedBySampling) {
  StartJail("rcpu");
  {
    int64_t before = Get(Fast(), Resource::kCputime);
    EXPECT_TRUE(Fast().cumulative[rctl::Index(Resource::kCputime)]);
    ProbeRun p(*manager_, name_, {"--hold", "1", "spin", "1000", "1"});
    std::string line = p.LineStarting("spin");
    int64_t cpu_ms = Field(line, "cpu_ms");
    int64_t delta_ms = (Get(Fast(), Resource::kCputime) - before) / 1000;
    Measured("cputime_probe_ms", cpu_ms);
    Measured("cputime_sampled_ms", delta_ms);
    EXPECT_GE(delta_ms, cpu_ms) << line;
    EXPECT_LE(delta_ms, cpu_ms + cpu_ms / 10 + 30) << "tolerance 10 % + 30 ms (exec, init)";
    EXPECT_EQ(p.Finish(), 0);
  }
  // cputime:sigkill=1 is sampled: a 100 ms sampler loop acts when the
  // jail's cputime (cumulative, includes exited tasks) passes 1 s more.
  auto e = Apply({"cputime:sigkill=1"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kSampled);
  int64_t base = Get(Fast(), Resource::kCputime);
  ProbeRun p(*manager_, name_, {"spin", "8000", "1"});
  absl::Time t0 = absl::Now();
  int64_t at_kill = 0;
  while (absl::Now() - t0 < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(100));
    at_kill = Get(Fast(), Resource::kCputime) - base;
    if (at_kill > 1000000) {
      KillJailProcesses(instance_);
      break;
    }
  }
  EXPECT_EQ(p.Finish(), 128 + SIGKILL);
  EXPECT_GT(at_kill, 1000000);
  Measured("cputime_at_sampled_kill_us", at_kill);
  EXPECT_LT(at_kill, 1000000 + 250000) << "overshoot: at most about one 100 ms tick";
}

TEST_F(ResourceTest, WallclockIsSinceJailStart) {
  StartJail("rwall");
  absl::SleepFor(absl::Milliseconds(300));
  platform::RawUsage u = Fast();
  int64_t expect = absl::ToInt64Microseconds(absl::Now() - instance_.started);
  EXPECT_NEAR(static_cast<double>(Get(u, Resource::kWallclock)), static_cast<double>(expect),
              50000.0)
      << "tolerance 50 ms";
  EXPECT_FALSE(u.cumulative[rctl::Index(Resource::kWallclock)]);
  auto e = Apply({"wallclock:sigkill=3600"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kSampled);
  // Per process: from /proc/<pid>/stat starttime.
  ProbeRun p(*manager_, name_, {"sleep", "1500"});
  ASSERT_EQ(p.LineStarting("sleep"), "sleep ms=1500");
  absl::SleepFor(absl::Milliseconds(1000));
  std::vector<platform::ProcessUsage> procs;
  Slow(&procs);
  const platform::ProcessUsage* probe = Probe(procs);
  ASSERT_NE(probe, nullptr);
  EXPECT_NEAR(static_cast<double>(probe->usage.value[rctl::Index(Resource::kWallclock)]), 1.0e6,
              150000.0)
      << "tolerance 150 ms (clock ticks of 10 ms, exec start-up)";
  EXPECT_EQ(p.Finish(), 0);
}

TEST_F(ResourceTest, WallclockSigkillIsEnforcedBySampling) {
  StartJail("rwallk");
  // wallclock:sigkill=2: a 100 ms sampler loop acts once the jail has
  // existed for more than 2 s (FreeBSD's racctd checks once a second).
  auto e = Apply({"wallclock:sigkill=2"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kSampled);
  ProbeRun p(*manager_, name_, {"sleep", "10000"});
  int64_t at_kill = 0;
  absl::Time t0 = absl::Now();
  while (absl::Now() - t0 < absl::Seconds(8)) {
    absl::SleepFor(absl::Milliseconds(100));
    at_kill = Get(Fast(), Resource::kWallclock);
    if (at_kill > 2000000) {
      KillJailProcesses(instance_);
      break;
    }
  }
  Measured("wallclock_at_sampled_kill_us", static_cast<double>(at_kill));
  EXPECT_EQ(p.Finish(), 128 + SIGKILL);
  EXPECT_GT(at_kill, 2000000);
  EXPECT_LT(at_kill, 2000000 + 250000) << "overshoot: at most about one 100 ms tick";
}

TEST_F(ResourceTest, PcpuDenyIsCfsQuota) {
  StartJail("rpcpu");
  auto e = Apply({"pcpu:deny=20"});
  EXPECT_EQ(e[0].fidelity, Fidelity::kExact);
  EXPECT_EQ(ReadText(instance_.backend_state.at("cgroup.cpu") + "/cpu.cfs_quota_us"), "20000\n");
  int64_t before = Get(Fast(), Resource::kCputime);
  absl::Time t0 = absl::Now();
  ProbeRun p(*manager_, name_, {"spin", "2000", "2"});
  std::string line = p.LineStarting("spin");
  EXPECT_EQ(p.Finish(), 0);
  double wall_us = absl::ToDoubleMicroseconds(absl::Now() - t0);
  double pcpu = static_cast<double>(Field(line, "pcpu"));  // integer part
  // The quota is a cap: the upper bound is the guarantee (+5 points of
  // tolerance); on a loaded 2-vCPU runner the probe may get less.
  EXPECT_GE(pcpu, 10) << line;
  EXPECT_LE(pcpu, 25) << line;
  double sampled = 100.0 * static_cast<double>(Get(Fast(), Resource::kCputime) - before) / wall_us;
  Measured("pcpu_probe_percent", pcpu);
  Measured("pcpu_sampled_percent", sampled);
  EXPECT_LE(sampled, 26.0) << "the sampler's pcpu from cputime deltas";
  EXPECT_NEAR(sampled, pcpu, 6.0) << "sampler vs the probe's own CPU clock (±6 points)";
  Apply({});
  EXPECT_EQ(ReadText(instance_.backend_state.at("cgroup.cpu") + "/cpu.cfs_quota_us"), "-1\n");
}

}  // namespace
}  // namespace jailwarden::testing
