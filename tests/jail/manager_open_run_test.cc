// jail::Manager: Open (adoption and cleanup), jails that end by
// themselves, one-shot Run, Exec and Update.

#include "jailwarden/jail/manager.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jail/manager_fixture.h"

namespace jailwarden::jail {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::HookSpec;
using testing::ManagerTest;
using testing::Plain;

TEST_F(ManagerTest, NewManagerAdoptsRunningAndCleansDeadJails) {
  ASSERT_TRUE(manager_->Create(Plain("alive")).ok());
  ASSERT_TRUE(manager_->Create(Plain("dead")).ok());
  ASSERT_TRUE(manager_->Start("alive").ok());
  ASSERT_TRUE(manager_->Start("dead").ok());
  manager_.reset();  // as if SIGKILLed: nothing is stopped
  rt_.EndJail("dead");
  rt_.ClearLog();
  manager_ = OpenManager();
  EXPECT_THAT(manager_->open_report().adopted, ElementsAre("alive"));
  EXPECT_THAT(manager_->open_report().cleaned, ElementsAre("dead"));
  EXPECT_THAT(rt_.Log(), ElementsAre("remove dead", "teardown dead"));
  EXPECT_EQ(manager_->Get("alive")->state, JailState::kRunning);
  EXPECT_EQ(manager_->Get("dead")->state, JailState::kStopped);
  // Exec works on the adopted jail.
  platform::ExecRequest req;
  req.argv = {"true"};
  auto r = manager_->Exec("alive", req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->ok());
}

TEST_F(ManagerTest, HalfMadeJailIsCleanedUpOnOpen) {
  ASSERT_TRUE(manager_->Create(Plain("half")).ok());
  manager_.reset();
  // A manager died between Prepare and the end of the start.
  std::string state = dir_ + "/state/jails/half/state.json";
  std::ofstream(state) << R"({"state": "starting", "jid": 5, "done": ["prepare"],
                              "instance": {"name": "half", "backend_state": {"x": "1"}}})";
  manager_ = OpenManager();
  EXPECT_THAT(manager_->open_report().cleaned, ElementsAre("half"));
  EXPECT_THAT(rt_.Log(), ElementsAre("remove half", "teardown half"));
  EXPECT_EQ(manager_->Get("half")->state, JailState::kStopped);
}

TEST_F(ManagerTest, JailThatEndsByItselfIsNoticed) {
  ASSERT_TRUE(manager_->Create(Plain("w")).ok());
  ASSERT_TRUE(manager_->Start("w").ok());
  rt_.EndJail("w");
  auto list = manager_->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, JailState::kStopped);
  EXPECT_THAT(rt_.Log(), Contains("teardown w"));
}

TEST_F(ManagerTest, RunIsOneShotAndPassesTheExitStatusThrough) {
  rt_.FailCommandContaining("exit 7", 7);
  platform::ExecRequest req;
  req.argv = {"/bin/sh", "-c", "exit 7"};
  auto r = manager_->Run(Plain("once"), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_THAT(manager_->List(), IsEmpty());
  EXPECT_THAT(rt_.Log(), Not(Contains("clear-persist once")));
  EXPECT_THAT(rt_.Log(), Contains("teardown once"));
}

TEST_F(ManagerTest, RunLeavesNoRecordBehind) {
  platform::ExecRequest req;
  req.argv = {"true"};
  ASSERT_TRUE(manager_->Run(Plain("once"), req).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/state/transient/once.json"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/state/jails/once"));
}

TEST_F(ManagerTest, EphemeralJailInterruptedByACrashIsCleanedAndForgotten) {
  manager_.reset();
  // A manager died while a one-shot run was going: its transient record.
  std::string file = dir_ + "/state/transient/run-1-1.json";
  std::ofstream(file) << R"({"spec": {"name": "run-1-1", "path": "/tmp"},
      "runtime": {"state": "starting", "jid": 3, "done": ["prepare"],
                  "instance": {"name": "run-1-1", "backend_state": {"x": "1"}}}})";
  manager_ = OpenManager();
  EXPECT_THAT(manager_->open_report().cleaned, ElementsAre("run-1-1"));
  EXPECT_THAT(manager_->open_report().removed, ElementsAre("run-1-1"));
  EXPECT_THAT(rt_.Log(), ElementsAre("remove run-1-1", "teardown run-1-1"));
  EXPECT_THAT(manager_->List(), IsEmpty());
  EXPECT_FALSE(std::filesystem::exists(file));
}

TEST_F(ManagerTest, UnreadableTransientRecordIsPowerCutResidueAndRemoved) {
  manager_.reset();
  // Transient records are written without fsync: after a power cut one may
  // be empty. A defined jail's unreadable record is kept for the user.
  std::ofstream(dir_ + "/state/transient/run-9-9.json") << "";
  std::filesystem::create_directories(dir_ + "/state/jails/kept");
  std::ofstream(dir_ + "/state/jails/kept/config.json") << "";
  manager_ = OpenManager();
  EXPECT_THAT(manager_->open_report().removed, ElementsAre("run-9-9"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/state/transient/run-9-9.json"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/state/jails/kept/config.json"));
  EXPECT_THAT(rt_.Log(), IsEmpty());
}

TEST_F(ManagerTest, RunGeneratesANameWhenNoneIsGiven) {
  platform::ExecRequest req;
  req.argv = {"true"};
  platform::JailSpec s = Plain("x");
  s.name = "";
  ASSERT_TRUE(manager_->Run(s, req).ok());
  EXPECT_THAT(rt_.Log()[0], HasSubstr("prepare run-"));
}

TEST_F(ManagerTest, ExecNeedsARunningJail) {
  ASSERT_TRUE(manager_->Create(Plain("w")).ok());
  platform::ExecRequest req;
  req.argv = {"true"};
  EXPECT_EQ(manager_->Exec("w", req).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(manager_->Exec("nope", req).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ManagerTest, UpdateOfARunningJailAppliesAtNextStart) {
  ASSERT_TRUE(manager_->Create(Plain("w")).ok());
  ASSERT_TRUE(manager_->Start("w").ok());
  platform::JailSpec s = Plain("w");
  s.hostname = "changed";
  ASSERT_TRUE(manager_->Update(s).ok());
  EXPECT_EQ(manager_->Get("w")->spec.hostname, "");
  ASSERT_TRUE(manager_->Restart("w").ok());
  EXPECT_EQ(manager_->Get("w")->spec.hostname, "changed");
}

}  // namespace
}  // namespace jailwarden::jail
