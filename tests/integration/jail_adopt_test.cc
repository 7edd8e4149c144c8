// Root-only: kill -9 of the managing process, then a new Manager adopts the
// jails that still run and cleans up the one that was half-made.
//
// The test process makes itself a child subreaper first, so the jails'
// pid-1 supervisors (children of the killed driver) are re-parented to it
// and the adopting Manager, living in this process, can reap them.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/jail_env.h"

namespace jailwarden::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

TEST(JailAdoptTest, KillDashNineThenANewManagerAdoptsRunningJails) {
  JW_REQUIRE_ROOT();
  JailWorkspace ws = JailWorkspace::Make("adopt");
  HostSnapshot before = HostSnapshot::Take(ws.cgroup_parent);
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  std::string marker = ws.top + "/c-created";
  std::string roots[3] = {ws.CopyRoot("a"), ws.CopyRoot("b"), ws.CopyRoot("c")};

  pid_t driver = fork();
  ASSERT_GE(driver, 0);
  if (driver == 0) {
    execl(JW_JAIL_DRIVER, "jail_driver", ws.state_dir.c_str(), ws.run_dir.c_str(),
          ws.cgroup_parent.c_str(), InitPath().c_str(), roots[0].c_str(), roots[1].c_str(),
          roots[2].c_str(), marker.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until the driver is inside adopt-c's exec.start, then kill it.
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!PathExists(marker) && absl::Now() < deadline) {
    int st;
    ASSERT_EQ(waitpid(driver, &st, WNOHANG), 0) << "driver exited early, status " << st;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(PathExists(marker));
  absl::SleepFor(absl::Milliseconds(200));
  ASSERT_EQ(kill(driver, SIGKILL), 0);
  int st = 0;
  ASSERT_EQ(waitpid(driver, &st, 0), driver);
  ASSERT_TRUE(WIFSIGNALED(st));

  {
    std::unique_ptr<jail::Manager> m = OpenManager(ws);
    ASSERT_NE(m, nullptr);
    EXPECT_THAT(m->open_report().adopted, ElementsAre("adopt-a", "adopt-b"));
    EXPECT_THAT(m->open_report().cleaned, ElementsAre("adopt-c"));
    EXPECT_EQ(m->Get("adopt-a")->state, jail::JailState::kRunning);
    EXPECT_EQ(m->Get("adopt-c")->state, jail::JailState::kStopped);
    // The adopted jails work: the sleep started by the old manager is there.
    ShellResult ps = JailShell(*m, "adopt-a", "ps -o comm | grep -c sleep");
    EXPECT_EQ(ps.out, "1\n");
    EXPECT_EQ(JailShell(*m, "adopt-b", "hostname").out, "adopt-b\n");
    // Reusing a name after a crash is normal: adopt-c starts again cleanly.
    platform::JailSpec c = m->Get("adopt-c")->spec;
    c.exec = {};
    ASSERT_TRUE(m->Update(c).ok());
    ASSERT_TRUE(m->Start("adopt-c").ok());
    // New JIDs do not collide with the adopted ones.
    std::set<int64_t> jids;
    for (const auto& r : m->List()) jids.insert(r.jid);
    EXPECT_EQ(jids.size(), 3u);
    for (const char* n : {"adopt-a", "adopt-b", "adopt-c"}) {
      absl::Status d = m->Destroy(n);
      EXPECT_TRUE(d.ok()) << d;
    }
  }
  // Helpers of the killed driver (its exec into adopt-c) were re-parented
  // to us as well; reap them before checking.
  absl::Time reap_deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < reap_deadline) {
    pid_t p = waitpid(-1, nullptr, WNOHANG);
    if (p < 0) break;
    if (p == 0) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
  ExpectNothingLeft(before, ws.cgroup_parent);
  RemoveTree(ws.top);
}

}  // namespace
}  // namespace jailwarden::testing
