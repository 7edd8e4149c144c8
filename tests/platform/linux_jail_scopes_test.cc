// Jails in systemd scopes (jail_scopes.h): the names and paths, the host
// test, and PlaceInitInScope's checks of what systemd did. The real
// systemd side (StartTransientUnit, adoption after restart and kill -9)
// is tests/systemd/unit_in_container_v2.sh, under Debian's systemd as
// pid 1 of a container.

#include "jailwarden/platform/linux/jail_scopes.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jailwarden::platform {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(JailScopesTest, UnitNameForTheDefaultStateDir) {
  EXPECT_EQ(ScopeUnitName("jailwarden", "web"), "jailwarden-web.scope");
  EXPECT_EQ(ScopeUnitName("jailwarden", "a-b_c"), "jailwarden-a-b_c.scope");
}

TEST(JailScopesTest, UnitNameForAnotherStateDirCannotMeetTheDefault) {
  // Jail "1a2b3c4d-web" of the default daemon and jail "web" of the
  // daemon whose cgroup_parent is jailwarden-1a2b3c4d.
  EXPECT_EQ(ScopeUnitName("jailwarden-1a2b3c4d", "web"), "jailwarden-1a2b3c4d:web.scope");
  EXPECT_NE(ScopeUnitName("jailwarden-1a2b3c4d", "web"),
            ScopeUnitName("jailwarden", "1a2b3c4d-web"));
}

TEST(JailScopesTest, SliceCgroupPathFollowsTheDashes) {
  EXPECT_EQ(SliceCgroupPath("jailwarden.slice"), "/jailwarden.slice");
  EXPECT_EQ(SliceCgroupPath("a-b-c.slice"), "/a.slice/a-b.slice/a-b-c.slice");
  EXPECT_EQ(SliceCgroupPath("-.slice"), "");
  EXPECT_EQ(SliceCgroupPath("x.service"), "");
}

TEST(JailScopesTest, PlannedStateNamesScopeDirectoryAndLeaf) {
  EXPECT_THAT(PlannedScopeState("/sys/fs/cgroup/", "jailwarden", "web"),
              UnorderedElementsAre(
                  Pair("cgroup.version", "v2"),
                  Pair("cgroup.unified", "/sys/fs/cgroup/jailwarden.slice/jailwarden-web.scope/web"),
                  Pair("cgroup_leaf", "jail"), Pair("systemd.scope", "jailwarden-web.scope"),
                  Pair("systemd.cgroup", "/sys/fs/cgroup/jailwarden.slice/jailwarden-web.scope")));
}

class HostRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-scopes-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    std::filesystem::create_directories(root_ + "/proc/1");
    std::filesystem::create_directories(root_ + "/run/systemd/system");
    std::filesystem::create_directories(root_ + "/cg");
    Write("/proc/1/comm", "systemd\n");
    Write("/cg/cgroup.controllers", "cpu memory pids\n");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(root_ + rel) << text;
  }
  std::string root_;
};

TEST_F(HostRoot, WantedUnderSystemdOnTheUnifiedHierarchy) {
  EXPECT_TRUE(SystemdScopesWanted(root_ + "/cg", root_));
}

TEST_F(HostRoot, NotWantedWhenPidOneIsNotSystemd) {
  Write("/proc/1/comm", "tini\n");
  EXPECT_FALSE(SystemdScopesWanted(root_ + "/cg", root_));
}

TEST_F(HostRoot, NotWantedWithoutRunSystemdSystem) {
  std::filesystem::remove(root_ + "/run/systemd/system");
  EXPECT_FALSE(SystemdScopesWanted(root_ + "/cg", root_));
}

TEST_F(HostRoot, NotWantedOnHybridOrV1Hosts) {
  // A hybrid host: the unified tree is at <root>/unified, v1 at the top.
  std::filesystem::remove(root_ + "/cg/cgroup.controllers");
  std::filesystem::create_directories(root_ + "/cg/unified");
  Write("/cg/unified/cgroup.controllers", "");
  EXPECT_FALSE(SystemdScopesWanted(root_ + "/cg", root_));
}

// systemd's side, scripted: what StartScope did or said.
class ScriptedScopes final : public JailScopeManager {
 public:
  absl::Status start = absl::OkStatus();
  JailScopeRequest seen;
  int stops = 0;
  absl::Status StartScope(const JailScopeRequest& request, absl::Duration) override {
    seen = request;
    return start;
  }
  absl::Status StopScope(std::string_view, absl::Duration) override {
    ++stops;
    return absl::OkStatus();
  }
};

TEST_F(HostRoot, PlaceAsksForTheScopeAndPassesSystemdsErrorOn) {
  ScriptedScopes scopes;
  scopes.start = absl::AbortedError("StartTransientUnit(jailwarden-web.scope): job 'failed'");
  auto planned = PlannedScopeState(root_ + "/cg", "jailwarden", "web");
  absl::Status st = PlaceInitInScope(scopes, planned, "web", getpid());
  EXPECT_EQ(st, scopes.start);
  EXPECT_EQ(scopes.seen.unit, "jailwarden-web.scope");
  EXPECT_EQ(scopes.seen.slice, "jailwarden.slice");
  EXPECT_EQ(scopes.seen.pid, getpid());
  EXPECT_EQ(scopes.seen.cgroup_dir, root_ + "/cg/jailwarden.slice/jailwarden-web.scope");
  // Nothing made.
  EXPECT_FALSE(std::filesystem::exists(root_ + "/cg/jailwarden.slice"));
}

TEST_F(HostRoot, PlaceRefusesAPidSystemdDidNotPutInTheScope) {
  // The scope "started" but this process is not in it (/proc/self/cgroup
  // names another cgroup): nothing is made below the planned scope.
  ScriptedScopes scopes;
  auto planned = PlannedScopeState(root_ + "/cg", "jailwarden", "web");
  absl::Status st = PlaceInitInScope(scopes, planned, "web", getpid());
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("not in " + root_ + "/cg/jailwarden.slice"));
  EXPECT_FALSE(std::filesystem::exists(root_ + "/cg/jailwarden.slice/jailwarden-web.scope/web"));
}

TEST_F(HostRoot, RemoveLeavesAnEmptyScopeToSystemd) {
  ScriptedScopes scopes;
  auto planned = PlannedScopeState(root_ + "/cg", "jailwarden", "web");
  const std::string scope = planned["systemd.cgroup"];
  std::filesystem::create_directories(scope);
  std::ofstream(scope + "/cgroup.events") << "populated 0\nfrozen 0\n";
  EXPECT_TRUE(RemoveJailScope(scopes, planned).ok());
  EXPECT_EQ(scopes.stops, 0);
  // Processes left in it (outside the jail's killed cgroups): stopped.
  std::ofstream(scope + "/cgroup.events") << "populated 1\nfrozen 0\n";
  EXPECT_TRUE(RemoveJailScope(scopes, planned).ok());
  EXPECT_EQ(scopes.stops, 1);
  // A jail recorded without a scope: nothing to do.
  EXPECT_TRUE(RemoveJailScope(scopes, {{"cgroup.unified", "/x"}}).ok());
  EXPECT_EQ(scopes.stops, 1);
}

}  // namespace
}  // namespace jailwarden::platform
