// linux.disk_quota's parsing and the choice of what can enforce it, from
// real mountinfo lines (no root, nothing mounted).

#include "platform/linux/disk_quota.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jailwarden::platform {
namespace {

using ::testing::HasSubstr;

TEST(ParseDiskQuotaTest, SizesWithSuffixes) {
  EXPECT_EQ(*ParseDiskQuota("1M"), uint64_t{1} << 20);
  EXPECT_EQ(*ParseDiskQuota("2G"), uint64_t{2} << 30);
  EXPECT_EQ(*ParseDiskQuota("3t"), uint64_t{3} << 40);
  EXPECT_EQ(*ParseDiskQuota("1048576"), uint64_t{1} << 20);
  for (const char* bad : {"", "G", "-1G", "1.5G", "12X", "512K", "99999999999999999T"}) {
    absl::StatusOr<uint64_t> q = ParseDiskQuota(bad);
    ASSERT_FALSE(q.ok()) << bad;
    EXPECT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(q.status().message()), HasSubstr("linux.disk_quota: \""));
  }
}

constexpr char kMounts[] =
    "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n"
    "40 26 254:16 / /srv rw,relatime - ext4 /dev/vdb rw,prjquota\n"
    "41 26 254:32 / /data rw,relatime - xfs /dev/vdc rw,attr2,inode64,pqnoenforce\n"
    "42 26 254:48 / /data/q rw,relatime - xfs /dev/vdd rw,attr2,inode64,prjquota\n"
    "43 26 0:50 / /run rw,nosuid - tmpfs tmpfs rw,size=100m\n"
    "44 26 0:51 / /mnt/nfs rw - nfs4 host:/x rw,vers=4.2\n"
    "45 26 0:52 /@jails /srv/b rw,relatime - btrfs /dev/vde rw,space_cache=v2,subvolid=256\n";

TEST(DiskQuotaTargetTest, OnlyExt4AndXfsWithProjectQuotasEnforced) {
  absl::StatusOr<DiskQuotaTarget> t = DiskQuotaTargetFor("/srv/jails/web", kMounts);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->fstype, "ext4");
  EXPECT_EQ(t->device, "/dev/vdb");
  t = DiskQuotaTargetFor("/data/q/web", kMounts);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->device, "/dev/vdd");

  t = DiskQuotaTargetFor("/work/jails/web", kMounts);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(t.status().message(),
            "linux.disk_quota: /work/jails/web is on ext4 /dev/vda (mounted at /) without "
            "project quotas enforced (mount option prjquota, with the ext4 features quota and "
            "project); jailwarden does not remount host file systems");
  t = DiskQuotaTargetFor("/data/web", kMounts);  // accounting only
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("xfs /dev/vdc"));
  t = DiskQuotaTargetFor("/run/jw/web", kMounts);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("tmpfs has no project quotas"));
  t = DiskQuotaTargetFor("/mnt/nfs/web", kMounts);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("only ext4 and xfs"));
}

TEST(DiskQuotaTargetTest, BtrfsIsATargetWithItsMountPoint) {
  absl::StatusOr<DiskQuotaTarget> t = DiskQuotaTargetFor("/srv/b/roots/web", kMounts);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->fstype, "btrfs");
  EXPECT_EQ(t->device, "/dev/vde");
  EXPECT_EQ(t->mount_point, "/srv/b");
}

TEST(DiskQuotaProjectTest, StableAndInJailwardensRange) {
  EXPECT_EQ(DiskQuotaProject("web"), DiskQuotaProject("web"));
  EXPECT_NE(DiskQuotaProject("web"), DiskQuotaProject("db"));
  EXPECT_EQ(DiskQuotaProject("web") & 0xffff0000u, 0x4a570000u);
}

}  // namespace
}  // namespace jailwarden::platform
