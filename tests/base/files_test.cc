#include "jailwarden/base/files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>

#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"

namespace jailwarden {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/jw-files-test-XXXXXX";
  const char* dir = mkdtemp(tmpl);
  EXPECT_NE(dir, nullptr);
  return dir == nullptr ? "/tmp" : dir;
}

TEST(FilesTest, ReadFileReturnsContentsOrTheErrno) {
  const std::string dir = TempDir();
  const std::string path = dir + "/f";
  std::ofstream(path) << std::string(100000, 'x');
  absl::StatusOr<std::string> text = ReadFile(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->size(), 100000u);
  absl::StatusOr<std::string> big = ReadFile(path, 1000);
  EXPECT_EQ(StatusErrno(big.status()), EFBIG);
  absl::StatusOr<std::string> missing = ReadFile(dir + "/nope");
  EXPECT_EQ(StatusErrno(missing.status()), ENOENT);
  unlink(path.c_str());
  rmdir(dir.c_str());
}

TEST(FilesTest, MakeDirsCreatesEveryMissingLevel) {
  const std::string dir = TempDir();
  ASSERT_TRUE(MakeDirs(dir + "/a/b/c", 0700).ok());
  struct stat st {};
  ASSERT_EQ(stat((dir + "/a/b/c").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(MakeDirs(dir + "/a/b/c").ok());  // existing is fine
  std::ofstream(dir + "/file") << "x";
  EXPECT_EQ(StatusErrno(MakeDirs(dir + "/file/sub")), ENOTDIR);
  for (const char* p : {"/a/b/c", "/a/b", "/a"}) rmdir((dir + p).c_str());
  unlink((dir + "/file").c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace jailwarden
