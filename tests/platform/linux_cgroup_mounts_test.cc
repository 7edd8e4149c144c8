// Which bind sources show a cgroup file system (bound read-only into a
// jail whatever the mount spec says), from real mountinfo lines.

#include "gtest/gtest.h"
#include "platform/linux/cgroup.h"

namespace jailwarden::platform {
namespace {

// A hybrid host: tmpfs at /sys/fs/cgroup, v1 hierarchies and the unified
// tree below it.
constexpr char kHybrid[] =
    "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "29 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "30 29 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 "
    "cgroup2 rw,nsdelegate\n"
    "34 29 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup "
    "cgroup rw,memory\n"
    "40 1 8:1 / /work rw,relatime shared:1 - ext4 /dev/sda1 rw\n";

TEST(ExposesCgroupFilesystemTest, SourcesAtInsideAndAboveACgroupMount) {
  EXPECT_TRUE(ExposesCgroupFilesystem("/sys/fs/cgroup", kHybrid));
  EXPECT_TRUE(ExposesCgroupFilesystem("/sys/fs/cgroup/", kHybrid));
  EXPECT_TRUE(ExposesCgroupFilesystem("/sys", kHybrid));
  EXPECT_TRUE(ExposesCgroupFilesystem("/", kHybrid));
  EXPECT_TRUE(ExposesCgroupFilesystem("/sys/fs/cgroup/memory/jailwarden/web", kHybrid));
  EXPECT_TRUE(ExposesCgroupFilesystem("/sys/fs/cgroup/unified", kHybrid));
  EXPECT_FALSE(ExposesCgroupFilesystem("/work/data", kHybrid));
  EXPECT_FALSE(ExposesCgroupFilesystem("/sys/fs/cgroupx", kHybrid));
  EXPECT_FALSE(ExposesCgroupFilesystem("/sys/fs/cgroup/memoryx", kHybrid));
  EXPECT_FALSE(ExposesCgroupFilesystem("/srv", ""));
}

}  // namespace
}  // namespace jailwarden::platform
