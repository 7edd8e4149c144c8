#include "jailwarden/jail/manager.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fakes/fake_jail_runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jailwarden::jail {
namespace {

using ::jailwarden::testing::FakeJailRuntime;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The fake runtime outlives the Manager that owns a forwarding wrapper, so
// one fake can serve a "restarted" manager too.
class Forwarding : public platform::JailRuntime {
 public:
  explicit Forwarding(FakeJailRuntime* f) : f_(f) {}
  absl::Status Prepare(const platform::JailSpec& s, platform::JailInstance& i) override {
    return f_->Prepare(s, i);
  }
  absl::Status Create(const platform::JailSpec& s, platform::JailInstance& i) override {
    return f_->Create(s, i);
  }
  absl::Status AttachNetwork(const platform::JailSpec& s, platform::JailInstance& i) override {
    return f_->AttachNetwork(s, i);
  }
  absl::StatusOr<platform::ExecResult> Exec(const platform::JailInstance& i,
                                            platform::ExecWhere w,
                                            const platform::ExecRequest& r) override {
    return f_->Exec(i, w, r);
  }
  absl::StatusOr<int64_t> Spawn(const platform::JailInstance& i,
                                const platform::ExecRequest& r) override {
    return f_->Spawn(i, r);
  }
  absl::Status SignalAll(const platform::JailInstance& i, int s) override {
    return f_->SignalAll(i, s);
  }
  absl::StatusOr<int> CountProcesses(const platform::JailInstance& i) override {
    return f_->CountProcesses(i);
  }
  absl::Status ClearPersist(platform::JailInstance& i) override { return f_->ClearPersist(i); }
  absl::Status Remove(platform::JailInstance& i) override { return f_->Remove(i); }
  absl::Status Teardown(const platform::JailSpec& s, platform::JailInstance& i) override {
    return f_->Teardown(s, i);
  }
  absl::StatusOr<bool> Adopt(platform::JailInstance& i) override { return f_->Adopt(i); }

 private:
  FakeJailRuntime* f_;
};

platform::JailSpec HookSpec(const std::string& name) {
  platform::JailSpec s;
  s.name = name;
  s.path = "/jails/" + name;
  s.exec.prepare = {"prepare1"};
  s.exec.prestart = {"prestart1", "prestart2"};
  s.exec.created = {"created1"};
  s.exec.start = {"rc.start"};
  s.exec.poststart = {"poststart1"};
  s.exec.prestop = {"prestop1"};
  s.exec.stop = {"rc.stop"};
  s.exec.poststop = {"poststop1"};
  s.exec.release = {"release1"};
  s.stop_timeout = absl::Milliseconds(100);
  return s;
}

platform::JailSpec Plain(const std::string& name, std::vector<std::string> depend = {}) {
  platform::JailSpec s;
  s.name = name;
  s.path = "/jails/" + name;
  s.depend = std::move(depend);
  return s;
}

class ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jw-manager-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    manager_ = OpenManager();
  }
  void TearDown() override {
    manager_.reset();
    (void)!system(("rm -rf " + dir_).c_str());
  }
  std::unique_ptr<Manager> OpenManager() {
    ManagerOptions o;
    o.state_dir = dir_ + "/state";
    o.fsync = false;
    o.observer = [this](const LifecycleEvent& e) { events_.push_back(e); };
    o.on_kernel_jail_created = on_created_;
    o.on_kernel_jail_removed = on_removed_;
    auto m = Manager::Open(o, std::make_unique<Forwarding>(&rt_));
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *std::move(m) : nullptr;
  }

  // Reopens the manager with the hooks set.
  void SetHooks(std::function<absl::Status(const platform::JailInstance&)> on_created,
                std::function<void(const std::string&)> on_removed) {
    on_created_ = std::move(on_created);
    on_removed_ = std::move(on_removed);
    manager_.reset();
    manager_ = OpenManager();
  }

  std::string dir_;
  FakeJailRuntime rt_;
  std::function<absl::Status(const platform::JailInstance&)> on_created_;
  std::function<void(const std::string&)> on_removed_;
  std::vector<LifecycleEvent> events_;
  std::unique_ptr<Manager> manager_;
};

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
