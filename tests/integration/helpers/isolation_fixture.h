#pragma once

// The fixture of the issue-13 isolation tests (jail_isolation_test.cc,
// jail_isolation_paths_test.cc): root required, the static escape_probe
// copied into each jail's root, a Manager on the real LinuxJailRuntime and
// a second one whose jails have no command socket (setns helper), and a
// check that nothing is left on the host.

#include <string>

#include "gtest/gtest.h"
#include "helpers/jail_env.h"

namespace jailwarden::testing {

inline std::string EscapeProbePath() {
#ifdef JW_ESCAPE_PROBE
  return JW_ESCAPE_PROBE;
#else
  return "";
#endif
}

class JailIsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    if (!PathExists(EscapeProbePath())) {
      const char* ci = getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") {
        FAIL() << "escape_probe not built at " << EscapeProbePath();
      }
      GTEST_SKIP() << "escape_probe not built (build target escape_probe)";
    }
    ws_ = JailWorkspace::Make("iso");
    ASSERT_FALSE(BusyboxBase().empty());
    before_ = HostSnapshot::Take(ws_.cgroup_parent);
    manager_ = OpenManager(ws_);
    ASSERT_NE(manager_, nullptr);
  }
  void TearDown() override {
    if (helper_manager_ != nullptr) {
      EXPECT_TRUE(helper_manager_->StopAll().ok());
      helper_manager_.reset();
    }
    if (manager_ != nullptr) {
      EXPECT_TRUE(manager_->StopAll().ok());
      manager_.reset();
      ExpectNothingLeft(before_, ws_.cgroup_parent);
    }
    RemoveTree(ws_.top);
  }

  platform::JailSpec Spec(const std::string& name, std::map<std::string, std::string> params = {}) {
    platform::JailSpec s;
    s.name = name;
    s.path = ws_.CopyRoot(name);
    s.persist = true;
    s.stop_timeout = absl::Seconds(2);
    s.parameters = std::move(params);
    EXPECT_EQ(system(("cp '" + EscapeProbePath() + "' '" + s.path + "/bin/escape_probe'").c_str()),
              0);
    return s;
  }

  void Up(jail::Manager& m, const platform::JailSpec& s) {
    absl::Status st = m.Create(s);
    ASSERT_TRUE(st.ok()) << st;
    st = m.Start(s.name);
    ASSERT_TRUE(st.ok()) << st;
  }

  // A manager whose jails have no command socket: commands enter through
  // the setns helper.
  jail::Manager& HelperManager() {
    if (helper_manager_ == nullptr) {
      JailWorkspace longws = ws_;
      longws.run_dir = ws_.top + "/run-" + std::string(100, 'x');
      longws.state_dir = ws_.top + "/state-helper";  // its own jail records
      helper_manager_ = OpenManager(longws);
    }
    return *helper_manager_;
  }

  JailWorkspace ws_;
  HostSnapshot before_;
  std::unique_ptr<jail::Manager> manager_;
  std::unique_ptr<jail::Manager> helper_manager_;
};

}  // namespace jailwarden::testing
