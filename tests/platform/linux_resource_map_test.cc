// The Linux resource map: one row per RCTL resource in enum order, and the
// facts the former per-file switches encoded (linux-mapping.md §1).

#include "platform/linux/resource_map.h"

#include <sys/resource.h>

#include <cerrno>
#include <set>

#include "gtest/gtest.h"

namespace jailwarden::platform {
namespace {

using rctl::Resource;

TEST(LinuxResourceMapTest, OneRowPerResourceInEnumOrder) {
  const auto& map = LinuxResourceMap();
  ASSERT_EQ(map.size(), rctl::kResourceCount);
  for (std::size_t i = 0; i < map.size(); ++i) {
    EXPECT_EQ(map[i].resource, rctl::ResourceAt(i)) << "row " << i;
    EXPECT_EQ(&LinuxResource(rctl::ResourceAt(i)), &map[i]);
  }
}

TEST(LinuxResourceMapTest, Rlimits) {
  EXPECT_EQ(LinuxRlimitOf(Resource::kCputime), RLIMIT_CPU);
  EXPECT_EQ(LinuxRlimitOf(Resource::kDatasize), RLIMIT_DATA);
  EXPECT_EQ(LinuxRlimitOf(Resource::kStacksize), RLIMIT_STACK);
  EXPECT_EQ(LinuxRlimitOf(Resource::kCoredumpsize), RLIMIT_CORE);
  EXPECT_EQ(LinuxRlimitOf(Resource::kMemorylocked), RLIMIT_MEMLOCK);
  EXPECT_EQ(LinuxRlimitOf(Resource::kMaxproc), RLIMIT_NPROC);
  EXPECT_EQ(LinuxRlimitOf(Resource::kOpenfiles), RLIMIT_NOFILE);
  EXPECT_EQ(LinuxRlimitOf(Resource::kVmemoryuse), RLIMIT_AS);
  EXPECT_EQ(LinuxRlimitOf(Resource::kMemoryuse), std::nullopt) << "RLIMIT_RSS does nothing";
  EXPECT_EQ(LinuxRlimitOf(Resource::kWallclock), std::nullopt);
  std::set<Resource> per_process;
  for (const LinuxResourceRow& row : LinuxResourceMap()) {
    if (row.rlimit_use == LinuxRlimitUse::kPerProcess) {
      per_process.insert(row.resource);
      EXPECT_EQ(row.mechanism, LinuxMechanism::kRlimit);
    }
  }
  EXPECT_EQ(per_process, (std::set<Resource>{Resource::kDatasize, Resource::kStacksize,
                                             Resource::kCoredumpsize, Resource::kMemorylocked,
                                             Resource::kOpenfiles, Resource::kVmemoryuse}));
  EXPECT_EQ(LinuxResource(Resource::kMaxproc).rlimit_use, LinuxRlimitUse::kPerUser);
  EXPECT_EQ(LinuxResource(Resource::kCputime).rlimit_use, LinuxRlimitUse::kNone);
}

TEST(LinuxResourceMapTest, CgroupKnobs) {
  const LinuxResourceRow& mem = LinuxResource(Resource::kMemoryuse);
  EXPECT_EQ(mem.cgroup_v1_controller, "memory");
  EXPECT_EQ(mem.cgroup_v1_knob, "memory.limit_in_bytes");
  EXPECT_EQ(mem.cgroup_v2_knob, "memory.max");
  EXPECT_EQ(LinuxResource(Resource::kSwapuse).cgroup_v1_knob, "memory.memsw.limit_in_bytes");
  EXPECT_EQ(LinuxResource(Resource::kSwapuse).cgroup_v2_knob, "memory.swap.max");
  EXPECT_EQ(LinuxResource(Resource::kNthr).slot, LinuxLimitSlot::kPids);
  EXPECT_EQ(LinuxResource(Resource::kMaxproc).slot, LinuxLimitSlot::kPids);
  EXPECT_EQ(LinuxResource(Resource::kPcpu).cgroup_v1_knob, "cpu.cfs_quota_us");
  EXPECT_EQ(LinuxResource(Resource::kPcpu).cgroup_v2_knob, "cpu.max");
  const Resource io[] = {Resource::kReadbps, Resource::kWritebps, Resource::kReadiops,
                         Resource::kWriteiops};
  const char* keys[] = {"rbps", "wbps", "riops", "wiops"};
  for (std::size_t i = 0; i < 4; ++i) {
    const LinuxResourceRow& row = LinuxResource(io[i]);
    EXPECT_EQ(row.cgroup_v1_controller, "blkio");
    EXPECT_EQ(row.cgroup_v2_knob, "io.max");
    EXPECT_EQ(row.cgroup_v2_key, keys[i]);
    EXPECT_TRUE(row.throttle_only);
    // CgroupLimits::io is in slot order.
    EXPECT_EQ(static_cast<std::size_t>(row.slot),
              static_cast<std::size_t>(LinuxLimitSlot::kIoReadBps) + i);
  }
  EXPECT_EQ(LinuxResource(Resource::kWritebps).fidelity_v1, Fidelity::kApproximate)
      << "v1 has no writeback attribution";
  EXPECT_EQ(LinuxResource(Resource::kWritebps).fidelity_v2, Fidelity::kExact);
}

TEST(LinuxResourceMapTest, IpcSysctlsAndDevpts) {
  EXPECT_EQ(LinuxResource(Resource::kNmsgq).sysctl, "kernel.msgmni");
  EXPECT_EQ(LinuxResource(Resource::kMsgqqueued).slot, LinuxLimitSlot::kMsgmnb);
  EXPECT_EQ(LinuxResource(Resource::kMsgqsize).slot, LinuxLimitSlot::kMsgmnb);
  EXPECT_EQ(LinuxResource(Resource::kNsem).sysctl, "kernel.sem SEMMNS");
  EXPECT_EQ(LinuxResource(Resource::kNsemop).sysctl, "kernel.sem SEMOPM");
  EXPECT_TRUE(LinuxResource(Resource::kNsemop).any_per) << "a per-call limit";
  EXPECT_EQ(LinuxResource(Resource::kNshm).sysctl, "kernel.shmmni");
  EXPECT_EQ(LinuxResource(Resource::kShmsize).sysctl, "kernel.shmall");
  EXPECT_EQ(LinuxResource(Resource::kPseudoterminals).mechanism, LinuxMechanism::kDevpts);
  EXPECT_EQ(LinuxResource(Resource::kCputime).mechanism, LinuxMechanism::kSamplerOnly);
  EXPECT_EQ(LinuxResource(Resource::kWallclock).mechanism, LinuxMechanism::kSamplerOnly);
}

TEST(LinuxResourceMapTest, SampledDenyClamps) {
  EXPECT_EQ(LinuxResource(Resource::kOpenfiles).clamp, LinuxClampSource::kLowestFreeFd);
  EXPECT_EQ(LinuxResource(Resource::kOpenfiles).clamp_errno, EMFILE);
  EXPECT_EQ(LinuxResource(Resource::kVmemoryuse).clamp, LinuxClampSource::kVmSize);
  EXPECT_EQ(LinuxResource(Resource::kDatasize).clamp, LinuxClampSource::kVmData);
  EXPECT_EQ(LinuxResource(Resource::kStacksize).clamp, LinuxClampSource::kVmStk);
  EXPECT_EQ(LinuxResource(Resource::kStacksize).clamp_errno, 0) << "SIGSEGV";
  EXPECT_EQ(LinuxResource(Resource::kMemorylocked).clamp, LinuxClampSource::kVmLck);
  EXPECT_EQ(LinuxResource(Resource::kCoredumpsize).clamp, LinuxClampSource::kNone)
      << "charged once, at dump time";
  for (const LinuxResourceRow& row : LinuxResourceMap()) {
    if (row.clamp != LinuxClampSource::kNone) {
      EXPECT_EQ(row.rlimit_use, LinuxRlimitUse::kPerProcess);
      EXPECT_FALSE(row.clamp_charge.empty());
    }
  }
}

}  // namespace
}  // namespace jailwarden::platform
