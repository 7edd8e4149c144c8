// linux.disk_quota's project ids (disk_quota_projects.h): allocated once
// per jail, kept in a file written atomically, never shared by two names
// even when their hashes collide, never one the file system still charges.
// No root: the file system's answer is the InUse callback.

#include "platform/linux/disk_quota_projects.h"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/files.h"
#include "platform/linux/disk_quota.h"

namespace jailwarden::platform {
namespace {

using ::testing::HasSubstr;

// Two jail names whose hashes (DiskQuotaProject) are the same id.
std::pair<std::string, std::string> CollidingNames() {
  std::map<uint32_t, std::string> seen;
  for (int i = 0; i < 100000; ++i) {
    std::string name = "j" + std::to_string(i);
    auto [it, fresh] = seen.emplace(DiskQuotaProject(name), name);
    if (!fresh) return {it->second, name};
  }
  return {};
}

class DiskQuotaProjectsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/jw-projects-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    file_ = dir_ + "/quota-projects";
  }
  void TearDown() override {
    unlink(file_.c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_, file_;
};

const DiskQuotaProjects::InUse kNothingInUse = [](uint32_t) { return false; };

TEST_F(DiskQuotaProjectsTest, ForcedHashCollisionGetsTwoIdsKeptAcrossRestarts) {
  const auto [a, b] = CollidingNames();
  ASSERT_FALSE(a.empty());
  ASSERT_EQ(DiskQuotaProject(a), DiskQuotaProject(b));  // the old scheme's collision
  DiskQuotaProjects projects(file_);
  absl::StatusOr<uint32_t> ida = projects.Allocate(a, kNothingInUse);
  absl::StatusOr<uint32_t> idb = projects.Allocate(b, kNothingInUse);
  ASSERT_TRUE(ida.ok()) << ida.status();
  ASSERT_TRUE(idb.ok()) << idb.status();
  EXPECT_EQ(*ida, DiskQuotaProject(a));
  EXPECT_NE(*idb, *ida);
  EXPECT_EQ(*idb, *ida + 1 == kFirstDiskQuotaProject + kDiskQuotaProjects
                      ? kFirstDiskQuotaProject
                      : *ida + 1);
  // A second daemon (a restart) reads the same ids back, in either order.
  DiskQuotaProjects again(file_);
  EXPECT_EQ(*again.Allocate(b, kNothingInUse), *idb);
  EXPECT_EQ(*again.Allocate(a, kNothingInUse), *ida);
  // On disk: "ID NAME" lines, nothing left of the temp file.
  absl::StatusOr<std::string> text = ReadFile(file_);
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr(std::to_string(*ida) + " " + a + "\n"));
  EXPECT_THAT(*text, HasSubstr(std::to_string(*idb) + " " + b + "\n"));
  EXPECT_NE(access((file_ + ".tmp").c_str(), F_OK), 0);
}

TEST_F(DiskQuotaProjectsTest, IdStillChargedOnTheFileSystemIsNeverReused) {
  const auto [a, b] = CollidingNames();
  DiskQuotaProjects projects(file_);
  const uint32_t ida = *projects.Allocate(a, kNothingInUse);
  // a is destroyed, its files stay charged to its project: b, whose hash
  // is a's, must not get it while the file system says it is in use.
  ASSERT_TRUE(projects.Release(a).ok());
  EXPECT_TRUE(projects.Read()->empty());
  const uint32_t idb = *projects.Allocate(b, [&](uint32_t p) { return p == ida; });
  EXPECT_NE(idb, ida);
  // Once nothing is charged to it, a new name may have it.
  ASSERT_TRUE(projects.Release(b).ok());
  EXPECT_EQ(*projects.Allocate(b, kNothingInUse), ida);
  // A name that holds an id keeps it whatever the file system says (its
  // own files are charged to it).
  EXPECT_EQ(*projects.Allocate(b, [](uint32_t) { return true; }), ida);
}

TEST_F(DiskQuotaProjectsTest, FullRangeIsResourceExhaustedAndChangesNothing) {
  DiskQuotaProjects projects(file_);
  ASSERT_TRUE(projects.Allocate("web", kNothingInUse).ok());
  const std::string before = *ReadFile(file_);
  absl::StatusOr<uint32_t> none = projects.Allocate("db", [](uint32_t) { return true; });
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(*ReadFile(file_), before);
}

TEST_F(DiskQuotaProjectsTest, BadTableIsDataLossWithFileAndLine) {
  {
    std::ofstream out(file_);
    out << kFirstDiskQuotaProject << " web\n" << kFirstDiskQuotaProject << " db\n";
  }
  DiskQuotaProjects projects(file_);
  absl::StatusOr<uint32_t> id = projects.Allocate("x", kNothingInUse);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(id.status().message()), HasSubstr(file_ + ":2:1:"));
  {
    std::ofstream out(file_);
    out << "12 web\n";  // outside jailwarden's range
  }
  id = projects.Allocate("x", kNothingInUse);
  ASSERT_FALSE(id.ok());
  EXPECT_THAT(std::string(id.status().message()), HasSubstr(file_ + ":1:1:"));
}

}  // namespace
}  // namespace jailwarden::platform
