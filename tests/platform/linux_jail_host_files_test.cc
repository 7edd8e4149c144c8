// jail_host_files.h: `copy` into a jail root and the 0700 rule, on scratch
// trees (root/ beside a "host" directory the test made).

#include "platform/linux/jail_host_files.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"

namespace jailwarden::platform {
namespace {

using ::testing::HasSubstr;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class JailHostFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-hostfiles-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    root_ = top_ + "/root";
    Sh("mkdir -p root/etc host && echo host > host/secret && echo new > src && "
       "chmod 0640 src && ln -s " + top_ + "/host/secret root/etc/resolv.conf && "
       "ln -s ../../host root/etc/up && echo old > root/etc/hosts && "
       "ln -s hosts root/etc/hosts.link");
  }
  void TearDown() override { Sh("rm -rf '" + top_ + "'"); }
  void Sh(const std::string& cmd) {
    ASSERT_EQ(system(("cd '" + top_ + "' && " + cmd).c_str()), 0) << cmd;
  }
  std::string top_, root_;
};

TEST_F(JailHostFilesTest, CopyThroughALinkOutFailsAndWritesNothing) {
  absl::Status st = CopyFileIntoRoot(top_ + "/src", root_, "/etc/resolv.conf");
  EXPECT_EQ(StatusErrno(st), EXDEV);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("copy target /etc/resolv.conf: EXDEV: a symbolic link"));
  st = CopyFileIntoRoot(top_ + "/src", root_, "/etc/up/new");
  EXPECT_EQ(StatusErrno(st), EXDEV);
  st = CopyFileIntoRoot(top_ + "/src", root_, "/../host/secret");
  EXPECT_EQ(StatusErrno(st), EXDEV);
  EXPECT_EQ(Read(top_ + "/host/secret"), "host\n");
  EXPECT_EQ(access((top_ + "/host/new").c_str(), F_OK), -1);
}

TEST_F(JailHostFilesTest, CopyReplacesOrWritesThroughAnInsideLink) {
  ASSERT_TRUE(CopyFileIntoRoot(top_ + "/src", root_, "/etc/hosts").ok());
  EXPECT_EQ(Read(root_ + "/etc/hosts"), "new\n");
  struct stat st;
  ASSERT_EQ(stat((root_ + "/etc/hosts").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_TRUE(CopyFileIntoRoot(top_ + "/src", root_, "/a/b/c").ok());
  EXPECT_EQ(Read(root_ + "/a/b/c"), "new\n");
  Sh("echo old > root/etc/hosts");
  ASSERT_TRUE(CopyFileIntoRoot(top_ + "/src", root_, "/etc/hosts.link").ok());
  EXPECT_EQ(Read(root_ + "/etc/hosts"), "new\n");
  ASSERT_EQ(lstat((root_ + "/etc/hosts.link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_FALSE(CopyFileIntoRoot(top_ + "/src", root_, "/etc").ok());
}

TEST_F(JailHostFilesTest, CloseToOthersRemovesGroupAndOtherBits) {
  Sh("mkdir roots && chmod 0755 roots");
  absl::StatusOr<mode_t> was = CloseToOthers(top_ + "/roots");
  ASSERT_TRUE(was.ok()) << was.status();
  EXPECT_EQ(*was, 0755u);
  struct stat st;
  ASSERT_EQ(stat((top_ + "/roots").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  was = CloseToOthers(top_ + "/roots");
  ASSERT_TRUE(was.ok());
  EXPECT_EQ(*was, 0u);
  EXPECT_EQ(CloseToOthers("/").status().code(), absl::StatusCode::kFailedPrecondition);
  // A shared directory (as /tmp) is never closed: the start fails instead.
  Sh("mkdir shared && chmod 1777 shared");
  absl::StatusOr<mode_t> shared = CloseToOthers(top_ + "/shared");
  EXPECT_EQ(shared.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(shared.status().message()), HasSubstr("shared directory (mode 1777)"));
  ASSERT_EQ(stat((top_ + "/shared").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  EXPECT_EQ(CloseToOthers(top_ + "/src").status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace jailwarden::platform
