// The fast-tier readers on fixture trees: v1 on the real captures (every
// hierarchy pointed at tests/testdata/linux/v1), v2 on the documented-format
// files in tests/testdata/linux/v2/jail1. Live v1 reads are in
// tests/integration_resources.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

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

TEST(CostlyReadsTest, PeriodZeroIsAlwaysDue) {
  CostlyReads c;
  RawUsage read;
  EXPECT_TRUE(c.Due(0));
  c.Keep(read, ResourceMask{}, 0);
  EXPECT_TRUE(c.Due(0));
}

TEST(CostlyReadsTest, DueAtFirstThenEveryPeriod) {
  constexpr int64_t kPeriodNs = 250'000'000;
  CostlyReads c(kPeriodNs);
  ResourceMask costly;
  costly.set(Index(Resource::kMemoryuse));
  EXPECT_TRUE(c.Due(0));
  RawUsage read;
  read.value[Index(Resource::kMemoryuse)] = 4096;
  read.present.set(Index(Resource::kMemoryuse));
  read.value[Index(Resource::kNthr)] = 3;
  read.present.set(Index(Resource::kNthr));
  c.Keep(read, costly, 1'000);
  EXPECT_FALSE(c.Due(1'000 + kPeriodNs - 1));
  EXPECT_TRUE(c.Due(1'000 + kPeriodNs));
  RawUsage out;
  c.Replay(out, costly);
  EXPECT_EQ(out.value[Index(Resource::kMemoryuse)], 4096);
  EXPECT_TRUE(out.present[Index(Resource::kMemoryuse)]);
  EXPECT_FALSE(out.present[Index(Resource::kNthr)]);  // not costly: not replayed
}

// On a copy of the v2 fixture: pids.current is read at every call, the
// costly memory.stat only once the period has passed.
TEST(CgroupReaderTest, CostlyFilesAreReadAtMostEveryPeriod) {
  constexpr int64_t kPeriodNs = 250'000'000;
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("jw-costly-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::copy(Dir("v2/jail1"), dir);
  LinuxJailPaths paths;
  paths.name = "copy";
  paths.cgroups["unified"] = dir.string();
  absl::StatusOr<std::unique_ptr<CgroupJailFiles>> files =
      NewCgroupV2Reader(kPeriodNs)->Open(paths);
  ASSERT_TRUE(files.ok()) << files.status();
  char buf[8192];
  RawUsage first;
  ASSERT_TRUE((*files)->ReadFast(first, buf, sizeof(buf)).ok());
  const int64_t mem0 = first.value[Index(Resource::kMemoryuse)];
  const int64_t t0 = MonotonicNowNs();
  {
    std::ofstream(dir / "pids.current") << "9\n";
    std::ofstream(dir / "memory.stat") << "anon 1048576\nfile_mapped 0\n";
  }
  RawUsage second;
  ASSERT_TRUE((*files)->ReadFast(second, buf, sizeof(buf)).ok());
  EXPECT_EQ(second.value[Index(Resource::kNthr)], 9);
  if (MonotonicNowNs() - t0 < kPeriodNs) {
    EXPECT_EQ(second.value[Index(Resource::kMemoryuse)], mem0);
    EXPECT_TRUE(second.present[Index(Resource::kMemoryuse)]);
  }
  // The period passing is the behaviour under test, not a synchronisation.
  std::this_thread::sleep_for(std::chrono::nanoseconds(kPeriodNs));
  RawUsage third;
  ASSERT_TRUE((*files)->ReadFast(third, buf, sizeof(buf)).ok());
  EXPECT_EQ(third.value[Index(Resource::kMemoryuse)], 1048576);
  // Without a period (the reader tests and tools use), every read is fresh.
  absl::StatusOr<std::unique_ptr<CgroupJailFiles>> plain = NewCgroupV2Reader()->Open(paths);
  ASSERT_TRUE(plain.ok()) << plain.status();
  RawUsage p1, p2;
  ASSERT_TRUE((*plain)->ReadFast(p1, buf, sizeof(buf)).ok());
  std::ofstream(dir / "memory.stat") << "anon 2097152\nfile_mapped 0\n";
  ASSERT_TRUE((*plain)->ReadFast(p2, buf, sizeof(buf)).ok());
  EXPECT_EQ(p2.value[Index(Resource::kMemoryuse)], 2097152);
  fs::remove_all(dir);
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
