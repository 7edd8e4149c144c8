// Parsers of cgroup files, on real v1 captures from the CI machine and on
// v2 files written from the kernel documentation (tests/testdata/linux/).

#include "platform/linux/cgroup_files.h"

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace jailwarden::platform {
namespace {

std::string Testdata(const std::string& rel) {
  std::ifstream in(std::string(JW_TESTDATA_DIR) + "/linux/" + rel);
  EXPECT_TRUE(in.good()) << rel;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(CgroupFilesTest, SingleValueOnRealCaptures) {
  EXPECT_EQ(ParseCgroupSingleValue(Testdata("v1/cpuacct.usage")), 74421476);
  EXPECT_EQ(ParseCgroupSingleValue(Testdata("v1/pids.current")), 3);
  EXPECT_EQ(ParseCgroupSingleValue(Testdata("v1/pids.max")), kCgroupUnlimited);
  EXPECT_EQ(ParseCgroupSingleValue("-1\n"), -1);
  EXPECT_EQ(ParseCgroupSingleValue(""), std::nullopt);
  EXPECT_EQ(ParseCgroupSingleValue("12 34"), std::nullopt);
}

TEST(CgroupFilesTest, KeyedValueMatchesWholeKeys) {
  std::string stat = Testdata("v1/memory.stat");
  EXPECT_EQ(FindCgroupKeyedValue(stat, "total_rss"), 258048);
  EXPECT_EQ(FindCgroupKeyedValue(stat, "rss"), 258048);  // not rss_huge
  EXPECT_EQ(FindCgroupKeyedValue(stat, "total_swap"), 0);
  EXPECT_EQ(FindCgroupKeyedValue(stat, "hierarchical_memory_limit"), 9223372036854771712);
  EXPECT_EQ(FindCgroupKeyedValue(stat, "total"), std::nullopt);
  EXPECT_EQ(FindCgroupKeyedValue(Testdata("v1/unified.cpu.stat"), "usage_usec"), 86201)
      << "the real capture's usage_usec";
  EXPECT_EQ(FindCgroupKeyedValue("usage_usec x\n", "usage_usec"), std::nullopt);
}

TEST(CgroupFilesTest, KeyedValuesInOnePass) {
  std::string stat = Testdata("v1/memory.stat");
  const std::string_view keys[] = {"total_swap", "total_rss", "nope"};
  std::optional<int64_t> v[3];
  FindCgroupKeyedValues(stat, keys, v, 3);
  EXPECT_EQ(v[0], 0);
  EXPECT_EQ(v[1], 258048);
  EXPECT_EQ(v[2], std::nullopt);
}

TEST(CgroupFilesTest, BlkioThrottleTotalsOnRealCaptures) {
  std::optional<CgroupIoTotals> bytes =
      ParseBlkioThrottleTotals(Testdata("v1/blkio.throttle.io_service_bytes_recursive"));
  ASSERT_TRUE(bytes.has_value());
  EXPECT_EQ(bytes->read, 4194304);  // the 4 MiB O_DIRECT read
  EXPECT_EQ(bytes->write, 4218880);
  std::optional<CgroupIoTotals> ops =
      ParseBlkioThrottleTotals(Testdata("v1/blkio.throttle.io_serviced_recursive"));
  ASSERT_TRUE(ops.has_value());
  EXPECT_EQ(ops->read, 1024);  // 4 MiB in 4 KiB reads
  EXPECT_EQ(ops->write, 12);
  // No I/O yet: only the grand total line.
  std::optional<CgroupIoTotals> none = ParseBlkioThrottleTotals("Total 0\n");
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->read, 0);
  EXPECT_EQ(ParseBlkioThrottleTotals("254:0 Read x\n"), std::nullopt);
  EXPECT_EQ(ParseBlkioThrottleTotals("vda Read 1\n"), std::nullopt);
}

TEST(CgroupFilesTest, BlkioTotalsSumDevices) {
  std::optional<CgroupIoTotals> t = ParseBlkioThrottleTotals(
      "254:0 Read 10\n254:0 Write 20\n254:0 Total 30\n8:0 Read 1\n8:0 Write 2\nTotal 33\n");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->read, 11);
  EXPECT_EQ(t->write, 22);
}

TEST(CgroupFilesTest, IoStatV2Fixture) {
  std::optional<CgroupIoStat> s = ParseIoStat(Testdata("v2/jail1/io.stat"));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->bytes.read, 20971520 + 4096);
  EXPECT_EQ(s->bytes.write, 41943040 + 8192);
  EXPECT_EQ(s->ops.read, 201);
  EXPECT_EQ(s->ops.write, 402);
  EXPECT_EQ(ParseIoStatTotals(Testdata("v2/jail1/io.stat"), true)->read, 201);
  ASSERT_TRUE(ParseIoStat("").has_value());
  EXPECT_EQ(ParseIoStat("254:0 rbytes\n"), std::nullopt);
  EXPECT_EQ(ParseIoStat("254:0 rbytes=z\n"), std::nullopt);
}

TEST(CgroupFilesTest, V2FixtureFiles) {
  std::string mem = Testdata("v2/jail1/memory.stat");
  EXPECT_EQ(FindCgroupKeyedValue(mem, "anon"), 33554432);
  EXPECT_EQ(FindCgroupKeyedValue(mem, "file_mapped"), 4194304);
  EXPECT_EQ(FindCgroupKeyedValue(Testdata("v2/jail1/cpu.stat"), "usage_usec"), 11717285);
  EXPECT_EQ(ParseCgroupSingleValue(Testdata("v2/jail1/memory.swap.current")), 8388608);
  EXPECT_EQ(ParseCgroupSingleValue(Testdata("v2/jail1/memory.max")), kCgroupUnlimited);
}

TEST(CgroupFilesTest, DevptsOptionsKeepOthersAndReplaceMax) {
  char out[128];
  ASSERT_TRUE(DevptsOptionsWithMax("rw,gid=5,mode=620,ptmxmode=666,max=16", 4, out, sizeof(out)));
  EXPECT_STREQ(out, "gid=5,mode=620,ptmxmode=666,max=4");
  ASSERT_TRUE(DevptsOptionsWithMax("rw,mode=600,ptmxmode=000", 1048576, out, sizeof(out)));
  EXPECT_STREQ(out, "mode=600,ptmxmode=000,max=1048576");
  ASSERT_TRUE(DevptsOptionsWithMax("rw", 3, out, sizeof(out)));
  EXPECT_STREQ(out, "max=3");
  char tiny[8];
  EXPECT_FALSE(DevptsOptionsWithMax("rw,gid=5,mode=620", 4, tiny, sizeof(tiny)));
}

TEST(CgroupFilesTest, FindsLastDevptsInMountinfo) {
  const std::string info =
      "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
      "25 22 0:21 / /dev/pts rw,nosuid,noexec,relatime shared:3 - devpts devpts "
      "rw,gid=5,mode=620,ptmxmode=000\n"
      "31 25 0:40 / /dev/pts rw,relatime - devpts devpts rw,mode=620,ptmxmode=666,max=16\n"
      "32 22 0:41 / /tmp rw - tmpfs tmpfs rw\n";
  std::optional<std::string_view> opts = FindDevptsSuperOptions(info, "/dev/pts");
  ASSERT_TRUE(opts.has_value());
  EXPECT_EQ(*opts, "rw,mode=620,ptmxmode=666,max=16");
  EXPECT_EQ(FindDevptsSuperOptions(info, "/mnt"), std::nullopt);
}

TEST(CgroupFilesTest, FindsBothOptionFieldsOfLastDevpts) {
  const std::string info =
      "25 22 0:21 / /dev/pts rw,nosuid,noexec,relatime shared:3 - devpts devpts "
      "rw,gid=5,mode=620,ptmxmode=000\n"
      "31 25 0:40 / /dev/pts ro,nosuid,relatime - devpts devpts rw,mode=620,max=16\n"
      "32 22 0:41 / /tmp rw - tmpfs tmpfs rw\n";
  std::optional<DevptsMountOptions> m = FindDevptsMount(info, "/dev/pts");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->mount_options, "ro,nosuid,relatime");
  EXPECT_EQ(m->super_options, "rw,mode=620,max=16");
  EXPECT_EQ(FindDevptsMount(info, "/tmp"), std::nullopt) << "not devpts";
}

}  // namespace
}  // namespace jailwarden::platform
