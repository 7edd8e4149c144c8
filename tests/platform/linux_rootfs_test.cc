#include "jailwarden/platform/linux/rootfs.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jailwarden::platform {
namespace {

using ::testing::HasSubstr;

TEST(RootfsTest, BusyboxRootHasAShellAndTheApplets) {
  if (access("/bin/busybox", X_OK) != 0) {
    GTEST_SKIP() << "busybox-static not installed";
  }
  char tmpl[] = "/tmp/jw-rootfs-test-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  absl::Status st = BuildBusyboxRoot(dir + "/root");
  ASSERT_TRUE(st.ok()) << st;
  char target[64] = {};
  ASSERT_GT(readlink((dir + "/root/bin/sh").c_str(), target, sizeof(target) - 1), 0);
  EXPECT_STREQ(target, "busybox");
  struct stat s;
  ASSERT_EQ(stat((dir + "/root/bin/busybox").c_str(), &s), 0);
  EXPECT_GT(s.st_size, 1 << 20);  // the static binary, ~2 MB
  ASSERT_EQ(stat((dir + "/root/tmp").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 01777u);
  EXPECT_EQ(access((dir + "/root/usr/bin/env").c_str(), F_OK), 0);
  EXPECT_EQ(access((dir + "/root/etc/passwd").c_str(), F_OK), 0);
  // Building again over an existing root works (links are replaced).
  EXPECT_TRUE(BuildBusyboxRoot(dir + "/root").ok());
  (void)!system(("rm -rf " + dir).c_str());
}

// Rebuilding over the root of a jail that ran: a link it planted (etc ->
// a "host" directory, here a scratch one) fails the build with EXDEV and
// nothing is written through it.
TEST(RootfsTest, RebuildDoesNotFollowLinksOutOfTheRoot) {
  if (access("/bin/busybox", X_OK) != 0) {
    GTEST_SKIP() << "busybox-static not installed";
  }
  char tmpl[] = "/tmp/jw-rootfs-test-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  ASSERT_TRUE(BuildBusyboxRoot(dir + "/root").ok());
  ASSERT_EQ(system(("mkdir " + dir + "/host && rm -rf " + dir + "/root/etc && ln -s " + dir +
                    "/host " + dir + "/root/etc")
                       .c_str()),
            0);
  absl::Status st = BuildBusyboxRoot(dir + "/root");
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("etc: EXDEV"));
  EXPECT_EQ(access((dir + "/host/passwd").c_str(), F_OK), -1);
  (void)!system(("rm -rf " + dir).c_str());
}

TEST(RootfsTest, MissingToolsAreClearErrors) {
  absl::Status a = BuildBusyboxRoot("/tmp/jw-never", "/nonexistent/busybox");
  EXPECT_EQ(a.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(a.message()), HasSubstr("busybox-static"));
  DebootstrapOptions o;
  o.debootstrap = "/nonexistent/debootstrap";
  absl::Status b = BuildDebootstrapRoot("/tmp/jw-never", o);
  EXPECT_EQ(b.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(b.message()), HasSubstr("apt-get install debootstrap"));
  EXPECT_NE(access("/tmp/jw-never", F_OK), 0);
}

}  // namespace
}  // namespace jailwarden::platform
