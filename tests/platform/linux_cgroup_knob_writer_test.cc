// The cgroup knob writers on plain directories standing in for a jail's
// cgroups: the v1 writer (v1-only and hybrid hosts) and the choice of
// writer by version.

#include "platform/linux/cgroup_knob_writer.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace jailwarden::platform {
namespace {

class V1KnobWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-v1-knobs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* c : {"memory", "pids", "cpu", "blkio"}) {
      std::filesystem::create_directory(dir_ + "/" + c);
      paths_.cgroups[c] = dir_ + "/" + c;
    }
    for (const char* f : {"memory/memory.limit_in_bytes", "memory/memory.memsw.limit_in_bytes",
                          "pids/pids.max", "cpu/cpu.cfs_quota_us",
                          "blkio/blkio.throttle.read_bps_device",
                          "blkio/blkio.throttle.write_bps_device",
                          "blkio/blkio.throttle.read_iops_device",
                          "blkio/blkio.throttle.write_iops_device"}) {
      std::ofstream(dir_ + "/" + f).flush();
    }
    std::ofstream(dir_ + "/cpu/cpu.cfs_period_us") << "50000\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string File(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  std::string dir_;
  LinuxJailPaths paths_;
};

TEST_F(V1KnobWriterTest, WritesAndLiftsLimits) {
  std::unique_ptr<CgroupKnobWriter> w = NewLinuxCgroupV1KnobWriter();
  EXPECT_EQ(w->version(), "v1");
  EXPECT_TRUE(w->swap_needs_memory_limit());
  CgroupLimits want;
  want.memory_bytes = 64 << 20;
  want.swap_bytes = 32 << 20;
  want.pids = 20;
  want.pcpu = 20000000;  // 20 % of one CPU
  want.io[0] = 5242880;  // readbps
  ASSERT_TRUE(w->Write(paths_, want, CgroupLimits{}, {"254:0"}).ok());
  EXPECT_EQ(File("memory/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(File("memory/memory.memsw.limit_in_bytes"), "100663296") << "memory + swap";
  EXPECT_EQ(File("pids/pids.max"), "20");
  EXPECT_EQ(File("cpu/cpu.cfs_quota_us"), "10000") << "20 % of the 50 ms period";
  EXPECT_EQ(File("blkio/blkio.throttle.read_bps_device"), "254:0 5242880");
  EXPECT_EQ(File("blkio/blkio.throttle.write_iops_device"), "") << "never limited: untouched";

  ASSERT_TRUE(w->Write(paths_, CgroupLimits{}, want, {"254:0"}).ok());
  EXPECT_EQ(File("memory/memory.limit_in_bytes"), "-1");
  EXPECT_EQ(File("memory/memory.memsw.limit_in_bytes"), "-1");
  EXPECT_EQ(File("pids/pids.max"), "max");
  EXPECT_EQ(File("cpu/cpu.cfs_quota_us"), "-1");
  EXPECT_EQ(File("blkio/blkio.throttle.read_bps_device"), "254:0 0") << "removes the rule";
}

TEST_F(V1KnobWriterTest, SwapAloneIsNotWritten) {
  CgroupLimits want;
  want.swap_bytes = 1 << 20;
  ASSERT_TRUE(NewLinuxCgroupV1KnobWriter()->Write(paths_, want, CgroupLimits{}, {}).ok());
  EXPECT_EQ(File("memory/memory.memsw.limit_in_bytes"), "-1");
}

TEST_F(V1KnobWriterTest, MissingControllerFailsOnlyWhenWanted) {
  paths_.cgroups.erase("pids");
  std::unique_ptr<CgroupKnobWriter> w = NewLinuxCgroupV1KnobWriter();
  EXPECT_TRUE(w->Write(paths_, CgroupLimits{}, CgroupLimits{}, {}).ok());
  CgroupLimits want;
  want.pids = 5;
  absl::Status st = w->Write(paths_, want, CgroupLimits{}, {});
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(std::string(st.message()).find("pids.max"), std::string::npos) << st;
}

TEST(CgroupKnobWriterTest, ChosenByVersion) {
  EXPECT_EQ(NewCgroupKnobWriter("v2")->version(), "v2");
  EXPECT_FALSE(NewCgroupKnobWriter("v2")->swap_needs_memory_limit());
  EXPECT_EQ(NewCgroupKnobWriter("v1")->version(), "v1");
  EXPECT_EQ(NewCgroupKnobWriter("hybrid")->version(), "v1")
      << "hybrid hosts bind the controllers to v1";
}

TEST(CgroupKnobWriterTest, CfsQuota) {
  EXPECT_EQ(CfsQuotaUs(20000000, 100000), 20000);
  EXPECT_EQ(CfsQuotaUs(1, 100000), 1000) << "the kernel's 1 ms minimum";
  EXPECT_EQ(CfsQuotaUs(INT64_MAX, 100000), 1000000000000000) << "capped, no overflow";
}

// Check reads back what Write left, as the kernel would show it (memory in
// whole pages), and reports only what changed.
TEST_F(V1KnobWriterTest, CheckFindsWhatChangedAfterWrite) {
  std::unique_ptr<CgroupKnobWriter> w = NewLinuxCgroupV1KnobWriter();
  CgroupLimits want;
  want.memory_bytes = (64 << 20) + 100;  // the kernel keeps whole pages
  want.pids = 20;
  want.pcpu = 20000000;
  want.io[1] = 1048576;  // writebps
  ASSERT_TRUE(w->Write(paths_, want, CgroupLimits{}, {"254:0"}).ok());
  std::ofstream(dir_ + "/memory/memory.limit_in_bytes") << "67108864\n";
  std::vector<LimitDrift> drifted;
  ASSERT_TRUE(w->Check(paths_, want, {"254:0"}, &drifted).ok());
  EXPECT_TRUE(drifted.empty());

  std::ofstream(dir_ + "/memory/memory.limit_in_bytes") << "9223372036854771712\n";
  std::ofstream(dir_ + "/pids/pids.max") << "max\n";
  std::ofstream(dir_ + "/cpu/cpu.cfs_period_us") << "1000\n";  // same quota, 10x the share
  std::ofstream(dir_ + "/blkio/blkio.throttle.write_bps_device") << "";
  ASSERT_TRUE(w->Check(paths_, want, {"254:0"}, &drifted).ok());
  ASSERT_EQ(drifted.size(), 4u);
  EXPECT_EQ(drifted[0].resource, "memoryuse");
  EXPECT_EQ(drifted[0].mechanism, dir_ + "/memory/memory.limit_in_bytes");
  EXPECT_EQ(drifted[0].found, "9223372036854771712");
  EXPECT_EQ(drifted[1].resource, "nthr");
  EXPECT_EQ(drifted[1].found, "max");
  EXPECT_EQ(drifted[2].resource, "pcpu");
  EXPECT_EQ(drifted[3].resource, "writebps");
  EXPECT_FALSE(drifted[0].repaired);
}

// v1 blk-throttle is not hierarchical: with the jail's processes in its
// leaf, the throttles go to (and are checked on) the leaf; the other
// limits stay on the jail's cgroup above it.
TEST_F(V1KnobWriterTest, ThrottlesGoToTheLeaf) {
  std::filesystem::create_directory(dir_ + "/blkio/jail");
  std::ofstream(dir_ + "/blkio/jail/blkio.throttle.read_bps_device").flush();
  paths_.leaf = "jail";
  std::unique_ptr<CgroupKnobWriter> w = NewLinuxCgroupV1KnobWriter();
  CgroupLimits want;
  want.pids = 20;
  want.io[0] = 5242880;
  ASSERT_TRUE(w->Write(paths_, want, CgroupLimits{}, {"254:0"}).ok());
  EXPECT_EQ(File("blkio/jail/blkio.throttle.read_bps_device"), "254:0 5242880");
  EXPECT_EQ(File("blkio/blkio.throttle.read_bps_device"), "");
  EXPECT_EQ(File("pids/pids.max"), "20");
  std::vector<LimitDrift> drifted;
  ASSERT_TRUE(w->Check(paths_, want, {"254:0"}, &drifted).ok());
  EXPECT_TRUE(drifted.empty());
  std::ofstream(dir_ + "/blkio/jail/blkio.throttle.read_bps_device") << "254:0 0\n";
  ASSERT_TRUE(w->Check(paths_, want, {"254:0"}, &drifted).ok());
  ASSERT_EQ(drifted.size(), 1u);
  EXPECT_EQ(drifted[0].mechanism, dir_ + "/blkio/jail/blkio.throttle.read_bps_device");
}

TEST(V2KnobWriterCheckTest, ReadsCpuMaxAndIoMax) {
  char tmpl[] = "/tmp/jw-v2-knobs-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  LinuxJailPaths paths;
  paths.cgroups["unified"] = dir;
  std::ofstream(dir + "/memory.max") << "33554432\n";
  std::ofstream(dir + "/pids.max") << "32\n";
  std::ofstream(dir + "/cpu.max") << "50000 100000\n";
  std::ofstream(dir + "/io.max") << "8:0 rbps=max wbps=1048576 riops=max wiops=max\n";
  CgroupLimits want;
  want.memory_bytes = 32 << 20;
  want.pids = 32;
  want.pcpu = 50000000;
  want.io[1] = 1048576;
  std::unique_ptr<CgroupKnobWriter> w = NewLinuxCgroupV2KnobWriter();
  std::vector<LimitDrift> drifted;
  ASSERT_TRUE(w->Check(paths, want, {"8:0"}, &drifted).ok());
  EXPECT_TRUE(drifted.empty());
  std::ofstream(dir + "/cpu.max") << "max 100000\n";
  std::ofstream(dir + "/io.max") << "";
  std::ofstream(dir + "/memory.max") << "max\n";
  ASSERT_TRUE(w->Check(paths, want, {"8:0"}, &drifted).ok());
  ASSERT_EQ(drifted.size(), 3u);
  EXPECT_EQ(drifted[0].resource, "memoryuse");
  EXPECT_EQ(drifted[1].resource, "pcpu");
  EXPECT_EQ(drifted[1].found, "max 100000");
  EXPECT_EQ(drifted[2].resource, "writebps");
  // A missing knob is skipped (the cgroup is gone), not an error.
  std::filesystem::remove(dir + "/pids.max");
  drifted.clear();
  CgroupLimits pids_only;
  pids_only.pids = 3;
  EXPECT_TRUE(w->Check(paths, pids_only, {}, &drifted).ok());
  EXPECT_TRUE(drifted.empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace jailwarden::platform
