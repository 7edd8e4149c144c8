// The daemon's own placement on the unified tree (cgroup_placement.h) over
// a fake cgroup file system in a temporary directory: the files the
// kernel makes for a cgroup are created by the test, the writes the code
// makes are read back. The real kernel's side (EBUSY of the "no internal
// processes" rule, the move itself) is tests/integration's
// daemon_cgroup_placement_test.cc.

#include "jailwarden/platform/linux/cgroup_placement.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"
#include "platform/linux/cgroup.h"

namespace jailwarden::platform {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class FakeCgroupFs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-cgplace-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // A non-root cgroup directory as the kernel shows it: `offered` in
  // cgroup.controllers, `enabled` in cgroup.subtree_control.
  void MakeCgroup(const std::string& rel, const std::string& offered,
                  const std::string& enabled = "") {
    const std::string dir = root_ + rel;
    std::filesystem::create_directories(dir);
    Write(dir + "/cgroup.type", "domain\n");
    Write(dir + "/cgroup.controllers", offered + "\n");
    Write(dir + "/cgroup.subtree_control", enabled.empty() ? "" : enabled + "\n");
    Write(dir + "/cgroup.procs", "");
  }
  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }

  std::string root_;
};

TEST(DaemonCgroupBaseTest, StripsTheLeafOnly) {
  EXPECT_EQ(DaemonCgroupBase("/system.slice/jailwarden.service"),
            "/system.slice/jailwarden.service");
  EXPECT_EQ(DaemonCgroupBase("/system.slice/jailwarden.service/supervisor"),
            "/system.slice/jailwarden.service");
  EXPECT_EQ(DaemonCgroupBase("/supervisor"), "/");
  EXPECT_EQ(DaemonCgroupBase("/"), "/");
  EXPECT_EQ(DaemonCgroupBase("/a/xsupervisor"), "/a/xsupervisor");
  EXPECT_EQ(DaemonCgroupBase("/a/supervisor/b"), "/a/supervisor/b");
}

// A v2-only host under systemd: the daemon starts in the unit's cgroup,
// which offers cpu, memory, pids and io (Delegate=yes).
TEST_F(FakeCgroupFs, V2OnlyMovesIntoTheLeafThenEnablesEveryController) {
  Write(root_ + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
  const std::string unit = "/system.slice/jailwarden.service";
  MakeCgroup(unit, "cpu memory pids io");
  // What mkdir of the leaf makes on the real file system.
  MakeCgroup(unit + "/supervisor", "");

  absl::StatusOr<DaemonCgroupPlacement> p =
      PlaceDaemonCgroup(root_, "0::" + unit + "\n", 4242);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->base_dir, root_ + unit);
  EXPECT_EQ(p->leaf_dir, root_ + unit + "/supervisor");
  EXPECT_THAT(p->enabled, ElementsAre("cpu", "memory", "pids", "io"));
  EXPECT_THAT(p->warnings, IsEmpty());
  EXPECT_EQ(Read(root_ + unit + "/supervisor/cgroup.procs"), "4242");
  // One write with every controller (the kernel takes it whole).
  EXPECT_EQ(Read(root_ + unit + "/cgroup.subtree_control"), "+cpu +memory +pids +io");
}

// The jails' cgroups: Detect strips the leaf from /proc/self/cgroup, so
// jails go beside it, and Create passes the controllers on in the jails'
// parent.
TEST_F(FakeCgroupFs, V2OnlyJailsGoBesideTheLeafWithTheControllers) {
  Write(root_ + "/cgroup.controllers", "cpu io memory pids\n");
  const std::string unit = "/system.slice/jailwarden.service";
  MakeCgroup(unit, "cpu memory pids io", "cpu memory pids io");
  MakeCgroup(unit + "/supervisor", "");
  MakeCgroup(unit + "/jailwarden", "cpu memory pids io");

  absl::StatusOr<CgroupLayout> layout =
      CgroupLayout::Detect(root_, "0::" + unit + "/supervisor\n");
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->name(), "v2");
  absl::StatusOr<std::map<std::string, std::string>> made = layout->Create("jailwarden", "web");
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->at("cgroup.unified"), root_ + unit + "/jailwarden/web");
  EXPECT_TRUE(std::filesystem::is_directory(root_ + unit + "/jailwarden/web/jail"));
  EXPECT_EQ(Read(root_ + unit + "/jailwarden/cgroup.subtree_control"),
            "+cpu +memory +pids +io");
}

// Restarted from a shell inside the leaf: the same base, nothing written
// to subtree_control when every controller is on already.
TEST_F(FakeCgroupFs, StartedInsideTheLeafKeepsTheBase) {
  Write(root_ + "/cgroup.controllers", "cpu io memory pids\n");
  const std::string unit = "/system.slice/jailwarden.service";
  MakeCgroup(unit, "cpu memory pids io", "cpu memory pids io");
  MakeCgroup(unit + "/supervisor", "");

  absl::StatusOr<DaemonCgroupPlacement> p =
      PlaceDaemonCgroup(root_, "0::" + unit + "/supervisor\n", 7);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->base_dir, root_ + unit);
  EXPECT_FALSE(std::filesystem::exists(root_ + unit + "/supervisor/supervisor"));
  EXPECT_THAT(p->enabled, ElementsAre("cpu", "memory", "pids", "io"));
  EXPECT_EQ(Read(root_ + unit + "/cgroup.subtree_control"), "cpu memory pids io\n");
}

// The root cgroup holds processes and controllers at once, and its
// subtree_control is the host's: left alone.
TEST_F(FakeCgroupFs, RootCgroupIsNotMoved) {
  Write(root_ + "/cgroup.controllers", "cpu io memory pids\n");
  Write(root_ + "/cgroup.subtree_control", "");
  absl::StatusOr<DaemonCgroupPlacement> p = PlaceDaemonCgroup(root_, "0::/\n", 7);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->base_dir, root_);
  EXPECT_EQ(p->leaf_dir, "");
  EXPECT_FALSE(std::filesystem::exists(root_ + "/supervisor"));
  EXPECT_EQ(Read(root_ + "/cgroup.subtree_control"), "");
}

// A hybrid host: only the unified tree at <root>/unified is touched, with
// what it offers (here hugetlb; the rest is bound to v1).
TEST_F(FakeCgroupFs, HybridPlacesOnTheUnifiedTreeOnly) {
  std::filesystem::create_directories(root_ + "/memory");
  Write(root_ + "/memory/cgroup.procs", "");
  std::filesystem::create_directories(root_ + "/unified");
  Write(root_ + "/unified/cgroup.controllers", "hugetlb\n");
  MakeCgroup("/unified/user.slice/s", "hugetlb");
  MakeCgroup("/unified/user.slice/s/supervisor", "");

  absl::StatusOr<DaemonCgroupPlacement> p =
      PlaceDaemonCgroup(root_, "4:memory:/m\n0::/user.slice/s\n", 99);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->leaf_dir, root_ + "/unified/user.slice/s/supervisor");
  EXPECT_THAT(p->enabled, ElementsAre("hugetlb"));
  EXPECT_EQ(Read(root_ + "/unified/user.slice/s/supervisor/cgroup.procs"), "99");
  EXPECT_FALSE(std::filesystem::exists(root_ + "/memory/supervisor"));
}

// No unified tree at all (v1-only): nothing to do.
TEST_F(FakeCgroupFs, V1OnlyDoesNothing) {
  std::filesystem::create_directories(root_ + "/pids");
  Write(root_ + "/pids/cgroup.procs", "");
  absl::StatusOr<DaemonCgroupPlacement> p = PlaceDaemonCgroup(root_, "8:pids:/x\n", 1);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->base_dir, "");
  EXPECT_EQ(p->leaf_dir, "");
}

// The leaf cannot be joined (here: a file in its place). With a required
// controller offered that is an error naming the file and the errno, and
// subtree_control is not touched; without one, a warning.
TEST_F(FakeCgroupFs, MoveFailureIsAnErrorOnlyWhenControllersAreNeeded) {
  Write(root_ + "/cgroup.controllers", "cpu io memory pids\n");
  MakeCgroup("/a", "cpu memory pids io");
  Write(root_ + "/a/supervisor", "");
  absl::StatusOr<DaemonCgroupPlacement> p = PlaceDaemonCgroup(root_, "0::/a\n", 5);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()),
              HasSubstr(root_ + "/a/supervisor/cgroup.procs: ENOTDIR"));
  EXPECT_EQ(Read(root_ + "/a/cgroup.subtree_control"), "");

  MakeCgroup("/b", "hugetlb");
  Write(root_ + "/b/supervisor", "");
  p = PlaceDaemonCgroup(root_, "0::/b\n", 5);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->leaf_dir, "");
  ASSERT_EQ(p->warnings.size(), 1u);
  EXPECT_THAT(p->warnings[0], HasSubstr("ENOTDIR"));
}

TEST_F(FakeCgroupFs, EnableOfferedControllersAddsOnlyTheMissingOnes) {
  MakeCgroup("/p", "cpu memory pids", "cpu");
  absl::StatusOr<std::vector<std::string>> on = EnableOfferedControllers(root_ + "/p");
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_THAT(*on, ElementsAre("cpu", "memory", "pids"));
  // Over the fake file: the write lands at offset 0 ("cpu\n" replaced).
  EXPECT_THAT(Read(root_ + "/p/cgroup.subtree_control"), HasSubstr("+memory +pids"));
  EXPECT_FALSE(EnableOfferedControllers(root_ + "/missing").ok());
}

}  // namespace
}  // namespace jailwarden::platform
