// The fast-tier readers on fixture trees: v1 on the real captures (every
// hierarchy pointed at tests/testdata/linux/v1), v2 on the documented-format
// files in tests/testdata/linux/v2/jail1. Live v1 reads are in
// tests/integration_resources.

#include <string>

#include "gtest/gtest.h"
#include "jailwarden/platform/linux/linux_usage_reader.h"
#include "platform/linux/cgroup_reader.h"

namespace jailwarden::platform {
namespace {

using rctl::Index;
using rctl::Resource;

std::string Dir(const std::string& rel) { return std::string(JW_TESTDATA_DIR) + "/linux/" + rel; }

TEST(CgroupReaderTest, V1OnRealCaptures) {
  LinuxJailPaths paths;
  paths.name = "cap";
  for (const char* h : {"cpuacct", "memory", "pids", "blkio"}) {
    paths.cgroups[h] = Dir("v1");
  }
  std::unique_ptr<CgroupReader> reader = NewCgroupV1Reader();
  absl::StatusOr<std::unique_ptr<CgroupJailFiles>> files = reader->Open(paths);
  ASSERT_TRUE(files.ok()) << files.status();
  RawUsage u;
  char buf[8192];
  ASSERT_TRUE((*files)->ReadFast(u, buf, sizeof(buf)).ok());
  EXPECT_EQ(u.value[Index(Resource::kCputime)], 74421476 / 1000);
  EXPECT_TRUE(u.cumulative[Index(Resource::kCputime)]);
  EXPECT_EQ(u.value[Index(Resource::kMemoryuse)], 258048);  // total_rss + total_mapped_file
  EXPECT_FALSE(u.cumulative[Index(Resource::kMemoryuse)]);
  EXPECT_EQ(u.value[Index(Resource::kSwapuse)], 0);
  EXPECT_EQ(u.value[Index(Resource::kNthr)], 3);
  EXPECT_EQ(u.value[Index(Resource::kReadbps)], 4194304);
  EXPECT_EQ(u.value[Index(Resource::kWritebps)], 4218880);
  EXPECT_EQ(u.value[Index(Resource::kReadiops)], 1024);
  EXPECT_EQ(u.value[Index(Resource::kWriteiops)], 12);
  for (Resource r : {Resource::kReadbps, Resource::kWritebps, Resource::kReadiops,
                     Resource::kWriteiops}) {
    EXPECT_TRUE(u.cumulative[Index(r)]);
  }
  EXPECT_EQ(u.present, (*files)->present());
  EXPECT_EQ(u.present.count(), 8u);
  // Re-reading (pread at 0) gives the same values: nothing was consumed.
  RawUsage again;
  ASSERT_TRUE((*files)->ReadFast(again, buf, sizeof(buf)).ok());
  EXPECT_EQ(again.value, u.value);
}

TEST(CgroupReaderTest, V1FallsBackToUnifiedCpuStat) {
  LinuxJailPaths paths;
  paths.cgroups["unified"] = Dir("v1_unified_only");
  // No such dir: NotFound, the jail's cgroup is gone.
  EXPECT_TRUE(absl::IsNotFound(NewCgroupV1Reader()->Open(paths).status()));
}

TEST(CgroupReaderTest, V2OnFixtureTree) {
  LinuxJailPaths paths;
  paths.name = "jail1";
  paths.cgroups["unified"] = Dir("v2/jail1");
  absl::StatusOr<std::unique_ptr<CgroupJailFiles>> files = NewCgroupV2Reader()->Open(paths);
  ASSERT_TRUE(files.ok()) << files.status();
  RawUsage u;
  char buf[8192];
  ASSERT_TRUE((*files)->ReadFast(u, buf, sizeof(buf)).ok());
  EXPECT_EQ(u.value[Index(Resource::kCputime)], 11717285);
  EXPECT_EQ(u.value[Index(Resource::kMemoryuse)], 33554432 + 4194304);
  EXPECT_EQ(u.value[Index(Resource::kSwapuse)], 8388608);
  EXPECT_EQ(u.value[Index(Resource::kNthr)], 7);
  EXPECT_EQ(u.value[Index(Resource::kReadbps)], 20971520 + 4096);
  EXPECT_EQ(u.value[Index(Resource::kWritebps)], 41943040 + 8192);
  EXPECT_EQ(u.value[Index(Resource::kReadiops)], 201);
  EXPECT_EQ(u.value[Index(Resource::kWriteiops)], 402);
  EXPECT_EQ(u.present.count(), 8u);
}

TEST(CgroupReaderTest, V2OnRealControllerLessGroup) {
  // A real unified group of the hybrid CI host: only cpu.stat exists, so
  // only cputime is present; the reader does not fail on the rest.
  LinuxJailPaths paths;
  paths.name = "hyb";
  paths.cgroups["unified"] = Dir("v2_hybrid_unified");
  absl::StatusOr<std::unique_ptr<CgroupJailFiles>> files = NewCgroupV2Reader()->Open(paths);
  ASSERT_TRUE(files.ok()) << files.status();
  RawUsage u;
  char buf[4096];
  ASSERT_TRUE((*files)->ReadFast(u, buf, sizeof(buf)).ok());
  EXPECT_EQ(u.present.count(), 1u);
  EXPECT_EQ(u.value[Index(Resource::kCputime)], 86201);
}

TEST(CgroupReaderTest, V2WithoutUnifiedIsInvalid) {
  LinuxJailPaths paths;
  paths.name = "x";
  paths.cgroups["memory"] = "/nonexistent";
  EXPECT_TRUE(absl::IsInvalidArgument(NewCgroupV2Reader()->Open(paths).status()));
}

TEST(CgroupReaderTest, UsageReaderRegistersFixtureJail) {
  LinuxUsageReaderOptions options;
  options.cgroup_version = "v2";
  options.read_sysv_ipc = false;
  absl::Time start = absl::FromUnixSeconds(1000);
  options.wall_now = [start] { return start + absl::Seconds(5); };
  absl::StatusOr<std::unique_ptr<LinuxUsageReader>> reader = LinuxUsageReader::Create(options);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->cgroup_version(), "v2");
  JailInstance inst;
  inst.ref.name = "jail1";
  inst.started = start;
  inst.backend_state["cgroup.unified"] = Dir("v2/jail1");
  inst.backend_state["cgroup.version"] = "v2";
  absl::StatusOr<JailRef> ref = (*reader)->AddJail(inst);
  ASSERT_TRUE(ref.ok()) << ref.status();
  RawUsage u;
  ASSERT_TRUE((*reader)->ReadFast(*ref, u).ok());
  EXPECT_EQ(u.value[Index(Resource::kWallclock)], 5000000);
  EXPECT_EQ(u.value[Index(Resource::kNthr)], 7);
  absl::StatusOr<std::vector<JailRef>> list = (*reader)->ListJails();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "jail1");
  ResourceMask supported = (*reader)->Supported();
  EXPECT_FALSE(supported[Index(Resource::kCoredumpsize)]);
  EXPECT_FALSE(supported[Index(Resource::kNmsgq)]);  // no IPC worker
  EXPECT_TRUE((*reader)->RemoveJail("jail1").ok());
  EXPECT_TRUE(absl::IsNotFound((*reader)->ReadFast(*ref, u)));
  EXPECT_TRUE(absl::IsNotFound((*reader)->RemoveJail("jail1")));
  JailInstance bad;
  bad.ref.name = "bad";
  EXPECT_TRUE(absl::IsInvalidArgument((*reader)->AddJail(bad).status()));
}

}  // namespace
}  // namespace jailwarden::platform
