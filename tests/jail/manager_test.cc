// jail::Manager: the start and stop sequences, rollback, `depend`, JIDs,
// names, and the kernel-jail hooks.

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

TEST_F(ManagerTest, FullLifecycleRunsHooksInJailOrder) {
  ASSERT_TRUE(manager_->Create(HookSpec("web")).ok());
  ASSERT_TRUE(manager_->Start("web").ok());
  EXPECT_EQ(manager_->Get("web")->state, JailState::kRunning);
  ASSERT_TRUE(manager_->Stop("web").ok());
  EXPECT_EQ(manager_->Get("web")->state, JailState::kStopped);
  EXPECT_THAT(rt_.Log(),
              ElementsAre("host web: prepare1", "prepare web", "host web: prestart1",
                          "host web: prestart2", "create web", "host web: created1",
                          "attach-network web", "jail web: rc.start", "host web: poststart1",
                          "clear-persist web", "host web: prestop1", "jail web: rc.stop",
                          "signal web 15", "remove web", "host web: poststop1",
                          "teardown web", "host web: release1"));
}

// Version() moves with every change List() would show (the maintenance
// pass skips its copy while it stays), and stays while nothing happens.
TEST_F(ManagerTest, VersionMovesWithEveryChangeListShows) {
  Manager::ListVersion v = manager_->Version();
  EXPECT_EQ(manager_->Version(), v);
  auto moved = [&] {
    const Manager::ListVersion now = manager_->Version();
    const bool changed = !(now == v);
    v = now;
    return changed;
  };
  ASSERT_TRUE(manager_->Create(HookSpec("web")).ok());
  EXPECT_TRUE(moved());
  ASSERT_TRUE(manager_->Start("web").ok());
  EXPECT_TRUE(moved());
  ASSERT_TRUE(manager_->Reconcile().ok());
  (void)manager_->List();
  EXPECT_FALSE(moved()) << "nothing changed";
  ASSERT_TRUE(manager_->Stop("web").ok());
  EXPECT_TRUE(moved());
  ASSERT_TRUE(manager_->Destroy("web").ok());
  EXPECT_TRUE(moved());
  EXPECT_EQ(v.jails, 0u);
  EXPECT_FALSE(moved());
}

TEST_F(ManagerTest, HooksGetJidNameAndPath) {
  ASSERT_TRUE(manager_->Create(HookSpec("web")).ok());
  ASSERT_TRUE(manager_->Start("web").ok());
  auto env = rt_.LastEnv();
  EXPECT_EQ(env["JNAME"], "web");
  EXPECT_EQ(env["JPATH"], "/jails/web");
  EXPECT_EQ(env["JID"], std::to_string(manager_->Get("web")->jid));
  EXPECT_FALSE(rt_.LastCleanEnv());
}

TEST_F(ManagerTest, ExecCleanDropsJailVariables) {
  platform::JailSpec s = HookSpec("web");
  s.exec.clean = true;
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("web").ok());
  auto env = rt_.LastEnv();
  EXPECT_TRUE(rt_.LastCleanEnv());
  EXPECT_EQ(env.count("JID"), 0u);
  EXPECT_EQ(env["PATH"], "/bin:/usr/bin");
}

TEST_F(ManagerTest, FailingStartCommandUndoesWhatWasDone) {
  ASSERT_TRUE(manager_->Create(HookSpec("web")).ok());
  rt_.FailCommandContaining("rc.start", 3);
  absl::Status st = manager_->Start("web");
  ASSERT_EQ(st.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(st.message(), "jail web: exec.start \"rc.start\" failed: exit status 3");
  EXPECT_THAT(rt_.Log(),
              ElementsAre("host web: prepare1", "prepare web", "host web: prestart1",
                          "host web: prestart2", "create web", "host web: created1",
                          "attach-network web", "jail web: rc.start", "remove web",
                          "host web: poststop1", "teardown web", "host web: release1"));
  auto rec = manager_->Get("web");
  EXPECT_EQ(rec->state, JailState::kStopped);
  EXPECT_EQ(rec->jid, -1);
  EXPECT_FALSE(rt_.IsRunning("web"));
  EXPECT_THAT(rt_.Prepared(), IsEmpty());
  // Rollback steps are marked as such.
  bool saw_rollback_remove = false;
  for (const LifecycleEvent& e : events_) {
    if (e.step == "remove" && e.rollback) saw_rollback_remove = true;
  }
  EXPECT_TRUE(saw_rollback_remove);
}

TEST_F(ManagerTest, FailingPrestartNeverCreatesTheJail) {
  ASSERT_TRUE(manager_->Create(HookSpec("web")).ok());
  rt_.FailCommandContaining("prestart2", 1);
  ASSERT_EQ(manager_->Start("web").code(), absl::StatusCode::kAborted);
  EXPECT_THAT(rt_.Log(), ElementsAre("host web: prepare1", "prepare web", "host web: prestart1",
                                     "host web: prestart2", "teardown web",
                                     "host web: release1"));
}

TEST_F(ManagerTest, FailingCreateIsRolledBack) {
  ASSERT_TRUE(manager_->Create(HookSpec("web")).ok());
  rt_.FailStep("create", absl::InternalError("clone3: EPERM"));
  absl::Status st = manager_->Start("web");
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(rt_.Log(), Contains("teardown web"));
  EXPECT_THAT(rt_.Log(), Not(Contains("host web: created1")));
  EXPECT_EQ(manager_->Get("web")->state, JailState::kStopped);
}

TEST_F(ManagerTest, TimedOutCommandFailsTheStart) {
  platform::JailSpec s = HookSpec("web");
  s.exec.timeout = absl::Seconds(2);
  ASSERT_TRUE(manager_->Create(s).ok());
  rt_.TimeOutCommandContaining("created1");
  absl::Status st = manager_->Start("web");
  EXPECT_EQ(st.message(), "jail web: exec.created \"created1\" failed: timed out after 2s");
}

TEST_F(ManagerTest, FailingPrestopKeepsTheJailRunning) {
  ASSERT_TRUE(manager_->Create(HookSpec("web")).ok());
  ASSERT_TRUE(manager_->Start("web").ok());
  rt_.FailCommandContaining("prestop1", 2);
  EXPECT_EQ(manager_->Stop("web").code(), absl::StatusCode::kAborted);
  EXPECT_EQ(manager_->Get("web")->state, JailState::kRunning);
  EXPECT_TRUE(rt_.IsRunning("web"));
  rt_.ClearFailures();
  EXPECT_TRUE(manager_->Stop("web").ok());
}

TEST_F(ManagerTest, FailingPoststopStillTearsDown) {
  ASSERT_TRUE(manager_->Create(HookSpec("web")).ok());
  ASSERT_TRUE(manager_->Start("web").ok());
  rt_.FailCommandContaining("poststop1", 1);
  EXPECT_EQ(manager_->Stop("web").code(), absl::StatusCode::kAborted);
  EXPECT_EQ(manager_->Get("web")->state, JailState::kStopped);
  EXPECT_THAT(rt_.Log(), Contains("host web: release1"));
}

TEST_F(ManagerTest, ZeroStopTimeoutSendsNoSigterm) {
  platform::JailSpec s = Plain("web");
  s.stop_timeout = absl::ZeroDuration();
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("web").ok());
  ASSERT_TRUE(manager_->Stop("web").ok());
  EXPECT_THAT(rt_.Log(), Not(Contains("signal web 15")));
}

TEST_F(ManagerTest, DependenciesStartFirstAndStopLast) {
  ASSERT_TRUE(manager_->Create(Plain("net")).ok());
  ASSERT_TRUE(manager_->Create(Plain("db", {"net"})).ok());
  ASSERT_TRUE(manager_->Create(Plain("web", {"db"})).ok());
  ASSERT_TRUE(manager_->Start("web").ok());
  std::vector<std::string> creates;
  for (const std::string& l : rt_.Log()) {
    if (l.rfind("create ", 0) == 0) creates.push_back(l);
  }
  EXPECT_THAT(creates, ElementsAre("create net", "create db", "create web"));
  rt_.ClearLog();
  // Stopping db stops web (its dependent) first; net keeps running.
  ASSERT_TRUE(manager_->Stop("db").ok());
  std::vector<std::string> removes;
  for (const std::string& l : rt_.Log()) {
    if (l.rfind("remove ", 0) == 0) removes.push_back(l);
  }
  EXPECT_THAT(removes, ElementsAre("remove web", "remove db"));
  EXPECT_EQ(manager_->Get("net")->state, JailState::kRunning);
  rt_.ClearLog();
  ASSERT_TRUE(manager_->StopAll().ok());
  EXPECT_THAT(rt_.Log(), Contains("remove net"));
}

TEST_F(ManagerTest, DependencyCycleIsAPreciseError) {
  ASSERT_TRUE(manager_->Create(Plain("a", {"b"})).ok());
  ASSERT_TRUE(manager_->Create(Plain("b", {"c"})).ok());
  ASSERT_TRUE(manager_->Create(Plain("c", {"a"})).ok());
  absl::Status st = manager_->Start("b");
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), "dependency cycle: b -> c -> a -> b");
  EXPECT_THAT(rt_.Log(), IsEmpty());
}

TEST_F(ManagerTest, SelfDependencyIsRejectedAtCreate) {
  EXPECT_EQ(manager_->Create(Plain("a", {"a"})).message(), "dependency cycle: a -> a");
}

TEST_F(ManagerTest, MissingDependencyIsNamed) {
  ASSERT_TRUE(manager_->Create(Plain("web", {"db"})).ok());
  EXPECT_EQ(manager_->Start("web").message(), "jail web depends on db, which is not defined");
}

TEST_F(ManagerTest, DestroyRefusesWhileOthersDependOnIt) {
  ASSERT_TRUE(manager_->Create(Plain("db")).ok());
  ASSERT_TRUE(manager_->Create(Plain("web", {"db"})).ok());
  EXPECT_EQ(manager_->Destroy("db").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(manager_->Destroy("web").ok());
  ASSERT_TRUE(manager_->Destroy("db").ok());
  EXPECT_THAT(manager_->List(), IsEmpty());
}

TEST_F(ManagerTest, JidsIncreaseAndSurviveARestart) {
  ASSERT_TRUE(manager_->Create(Plain("a")).ok());
  ASSERT_TRUE(manager_->Create(Plain("b")).ok());
  ASSERT_TRUE(manager_->Start("a").ok());
  ASSERT_TRUE(manager_->Start("b").ok());
  EXPECT_EQ(manager_->Get("a")->jid, 1);
  EXPECT_EQ(manager_->Get("b")->jid, 2);
  ASSERT_TRUE(manager_->Restart("a").ok());
  EXPECT_EQ(manager_->Get("a")->jid, 3);
  manager_ = OpenManager();
  EXPECT_THAT(manager_->open_report().adopted, ElementsAre("a", "b"));
  EXPECT_EQ(manager_->Get("a")->jid, 3);
  ASSERT_TRUE(manager_->Restart("b").ok());
  EXPECT_EQ(manager_->Get("b")->jid, 4);
}

TEST_F(ManagerTest, NameValidation) {
  EXPECT_EQ(manager_->Create(Plain("a.b")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager_->Create(Plain("")).code(), absl::StatusCode::kInvalidArgument);
  platform::JailSpec rel = Plain("x");
  rel.path = "jails/x";
  EXPECT_EQ(manager_->Create(rel).message(), "jail x: path jails/x: not an absolute pathname");
  ASSERT_TRUE(manager_->Create(Plain("x")).ok());
  EXPECT_EQ(manager_->Create(Plain("x")).code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(ManagerTest, CreatedHookRunsOncePerStartAfterCreate) {
  std::vector<std::string> created;
  SetHooks(
      [&](const platform::JailInstance& i) {
        created.push_back(i.ref.name);
        // Right after the kernel jail exists, before exec.created.
        EXPECT_EQ(rt_.Log().back(), "create " + i.ref.name);
        EXPECT_GT(i.ref.jid, 0);
        return absl::OkStatus();
      },
      nullptr);
  ASSERT_TRUE(manager_->Create(HookSpec("web")).ok());
  ASSERT_TRUE(manager_->Start("web").ok());
  EXPECT_THAT(created, ElementsAre("web"));
  ASSERT_TRUE(manager_->Start("web").ok());  // already running: no new jail
  EXPECT_THAT(created, ElementsAre("web"));
  ASSERT_TRUE(manager_->Restart("web").ok());
  EXPECT_THAT(created, ElementsAre("web", "web"));
}

TEST_F(ManagerTest, FailingCreatedHookFailsTheStartAndRollsBack) {
  SetHooks(
      [](const platform::JailInstance&) {
        return absl::ResourceExhaustedError("cgroup limits refused");
      },
      nullptr);
  ASSERT_TRUE(manager_->Create(HookSpec("web")).ok());
  absl::Status st = manager_->Start("web");
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(st.message(), "cgroup limits refused");
  // Undone as a Create that made the jail and then failed.
  EXPECT_THAT(rt_.Log(),
              ElementsAre("host web: prepare1", "prepare web", "host web: prestart1",
                          "host web: prestart2", "create web", "remove web",
                          "host web: poststop1", "teardown web", "host web: release1"));
  EXPECT_THAT(rt_.Log(), Not(Contains("jail web: rc.start")));
  EXPECT_FALSE(rt_.IsRunning("web"));
  auto rec = manager_->Get("web");
  EXPECT_EQ(rec->state, JailState::kStopped);
  EXPECT_EQ(rec->jid, -1);
  bool saw_failed_create = false;
  for (const LifecycleEvent& e : events_) {
    if (e.step == "create" && !e.ok) saw_failed_create = true;
  }
  EXPECT_TRUE(saw_failed_create);
  // Restart and Run return the hook's error too.
  EXPECT_EQ(manager_->Restart("web").code(), absl::StatusCode::kResourceExhausted);
  platform::ExecRequest req;
  req.argv = {"true"};
  EXPECT_EQ(manager_->Run(Plain("once"), req).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(manager_->List(), ElementsAre(::testing::Field(&JailRecord::spec,
                                                             ::testing::Field(
                                                                 &platform::JailSpec::name,
                                                                 "web"))));
}

TEST_F(ManagerTest, RemovedHookRunsAfterRemove) {
  std::vector<std::string> removed;
  SetHooks(nullptr, [&](const std::string& name) {
    removed.push_back(name);
    EXPECT_EQ(rt_.Log().back(), "remove " + name);
  });
  ASSERT_TRUE(manager_->Create(Plain("w")).ok());
  ASSERT_TRUE(manager_->Start("w").ok());
  EXPECT_THAT(removed, IsEmpty());
  ASSERT_TRUE(manager_->Stop("w").ok());
  EXPECT_THAT(removed, ElementsAre("w"));
  ASSERT_TRUE(manager_->Stop("w").ok());  // already stopped: nothing removed
  EXPECT_THAT(removed, ElementsAre("w"));
  // A jail that ended by itself is removed too.
  ASSERT_TRUE(manager_->Start("w").ok());
  rt_.EndJail("w");
  (void)manager_->List();
  EXPECT_THAT(removed, ElementsAre("w", "w"));
}

TEST_F(ManagerTest, RemovedHookRunsEvenWhenRemoveFails) {
  std::vector<std::string> removed;
  SetHooks(nullptr, [&](const std::string& name) { removed.push_back(name); });
  ASSERT_TRUE(manager_->Create(Plain("w")).ok());
  ASSERT_TRUE(manager_->Start("w").ok());
  rt_.FailStep("remove", absl::InternalError("EBUSY"));
  EXPECT_EQ(manager_->Stop("w").code(), absl::StatusCode::kInternal);
  EXPECT_THAT(removed, ElementsAre("w"));
}

}  // namespace
}  // namespace jailwarden::jail
