// Issue 13: the state directory (jail roots and writable layers, specs,
// logs) is closed to host users once the daemon holds its lock, an old
// 0755 one included; a shared directory is left as it is.

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/service/state_dir_lock.h"

namespace jailwarden::service {
namespace {

mode_t ModeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

TEST(StateDirLockTest, ClosesAnOpenStateDirectoryToHostUsers) {
  char dir[] = "/tmp/jw-lock-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string state = StrCat(dir, "/state");
  ASSERT_EQ(mkdir(state.c_str(), 0755), 0);
  ASSERT_EQ(chmod(state.c_str(), 0755), 0);  // whatever the umask
  {
    absl::StatusOr<std::unique_ptr<StateDirLock>> lock = StateDirLock::Acquire(state);
    ASSERT_TRUE(lock.ok()) << lock.status();
    EXPECT_EQ(ModeOf(state), 0700u);
  }
  // A second daemon refused by the lock changes nothing.
  ASSERT_EQ(chmod(state.c_str(), 0750), 0);
  {
    absl::StatusOr<std::unique_ptr<StateDirLock>> lock = StateDirLock::Acquire(state);
    ASSERT_TRUE(lock.ok()) << lock.status();
    EXPECT_EQ(ModeOf(state), 0700u);
    ASSERT_EQ(chmod(state.c_str(), 0750), 0);
    EXPECT_FALSE(StateDirLock::Acquire(state).ok());
    EXPECT_EQ(ModeOf(state), 0750u);
  }
  // A shared directory (sticky, writable by all) is not closed.
  const std::string shared = StrCat(dir, "/shared");
  ASSERT_EQ(mkdir(shared.c_str(), 0700), 0);
  ASSERT_EQ(chmod(shared.c_str(), 01777), 0);
  {
    absl::StatusOr<std::unique_ptr<StateDirLock>> lock = StateDirLock::Acquire(shared);
    ASSERT_TRUE(lock.ok()) << lock.status();
    EXPECT_EQ(ModeOf(shared), 01777u);
  }
  (void)std::system(StrCat("rm -rf '", dir, "'").c_str());
}

}  // namespace
}  // namespace jailwarden::service
