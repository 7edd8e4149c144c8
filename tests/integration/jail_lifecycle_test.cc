// Root-only: real Linux jails through jail::Manager and LinuxJailRuntime.
// Every test checks that it left no mount, cgroup, interface or process.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/jail_env.h"

namespace jailwarden::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class JailLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    ws_ = JailWorkspace::Make("life");
    ASSERT_FALSE(BusyboxBase().empty());
    before_ = HostSnapshot::Take(ws_.cgroup_parent);
    manager_ = OpenManager(ws_, [this](const jail::LifecycleEvent& e) { events_.push_back(e); });
    ASSERT_NE(manager_, nullptr);
  }
  void TearDown() override {
    if (manager_ != nullptr) {
      for (const jail::JailRecord& r : manager_->List()) {
        (void)manager_->Stop(r.spec.name);
      }
      EXPECT_TRUE(manager_->StopAll().ok());
      manager_.reset();
      ExpectNothingLeft(before_, ws_.cgroup_parent);
    }
    RemoveTree(ws_.top);
  }

  platform::JailSpec Spec(const std::string& name) {
    platform::JailSpec s;
    s.name = name;
    s.path = ws_.CopyRoot(name);
    s.persist = true;
    s.stop_timeout = absl::Seconds(2);
    return s;
  }

  JailWorkspace ws_;
  HostSnapshot before_;
  std::vector<jail::LifecycleEvent> events_;
  std::unique_ptr<jail::Manager> manager_;
};

TEST_F(JailLifecycleTest, FullLifecycleRunsHooksInJailOrder) {
  std::string log = ws_.top + "/hooks.log";
  std::string shared = ws_.top + "/shared";
  mkdir(shared.c_str(), 0755);
  platform::JailSpec s = Spec("life1");
  s.mounts.push_back({shared, "/shared", "nullfs", false, ""});
  auto host = [&](const std::string& phase) {
    return "echo " + phase + " $JID $JNAME $JPATH >> " + log;
  };
  s.exec.prepare = {host("prepare")};
  s.exec.prestart = {host("prestart")};
  s.exec.created = {host("created")};
  s.exec.start = {"echo start $JNAME $(hostname) >> /shared/jail.log; cat /shared/jail.log >> /dev/null"};
  s.exec.poststart = {host("poststart"), "cat " + shared + "/jail.log >> " + log};
  s.exec.prestop = {host("prestop")};
  s.exec.stop = {"echo stop >> /shared/jail.log"};
  s.exec.poststop = {host("poststop"), "cat " + shared + "/jail.log | tail -1 >> " + log};
  s.exec.release = {host("release")};
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("life1").ok());
  auto rec = manager_->Get("life1");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->state, jail::JailState::kRunning);
  int64_t jid = rec->jid;
  EXPECT_GT(jid, 0);
  // backend_state carries what the resource layer needs.
  const auto& bs = rec->instance.backend_state;
  for (const char* key : {"cgroup.pids", "cgroup.memory", "cgroup.unified", "init.pid",
                          "init.starttime", "devpts", "root"}) {
    EXPECT_TRUE(bs.count(key)) << key;
  }
  EXPECT_TRUE(PathExists(bs.at("cgroup.unified") + "/cgroup.procs"));
  ASSERT_TRUE(manager_->Stop("life1").ok());
  std::string j = std::to_string(jid);
  std::string tail = " " + j + " life1 " + s.path;
  EXPECT_THAT(ReadLines(log),
              ElementsAre("prepare" + tail, "prestart" + tail, "created" + tail,
                          "poststart" + tail, "start life1 life1", "prestop" + tail,
                          "poststop" + tail, "stop", "release" + tail));
  EXPECT_EQ(manager_->Get("life1")->state, jail::JailState::kStopped);
  // The name can be reused at once.
  ASSERT_TRUE(manager_->Destroy("life1").ok());
  platform::JailSpec again = s;
  again.exec = {};
  ASSERT_TRUE(manager_->Create(again).ok());
  ASSERT_TRUE(manager_->Start("life1").ok());
  ASSERT_TRUE(manager_->Restart("life1").ok());
  EXPECT_EQ(manager_->Get("life1")->state, jail::JailState::kRunning);
  ASSERT_TRUE(manager_->Destroy("life1").ok());
}

TEST_F(JailLifecycleTest, FailingCommandRollsBackEverything) {
  std::string log = ws_.top + "/hooks.log";
  platform::JailSpec s = Spec("fail1");
  s.exec.prestart = {"echo prestart >> " + log};
  s.exec.created = {"echo created >> " + log};
  s.exec.start = {"echo in-jail; exit 3"};
  s.exec.poststart = {"echo poststart >> " + log};
  s.exec.poststop = {"echo poststop >> " + log};
  s.exec.release = {"echo release >> " + log};
  ASSERT_TRUE(manager_->Create(s).ok());
  absl::Status st = manager_->Start("fail1");
  EXPECT_EQ(st.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(st.message(), "jail fail1: exec.start \"echo in-jail; exit 3\" failed: exit status 3");
  EXPECT_THAT(ReadLines(log), ElementsAre("prestart", "created", "poststop"));
  EXPECT_EQ(manager_->Get("fail1")->state, jail::JailState::kStopped);
  EXPECT_TRUE(ListDir(ws_.run_dir).empty());
  // A timeout is a failure too.
  platform::JailSpec t = Spec("fail2");
  t.exec.timeout = absl::Milliseconds(300);
  t.exec.start = {"sleep 5"};
  ASSERT_TRUE(manager_->Create(t).ok());
  absl::Time t0 = absl::Now();
  st = manager_->Start("fail2");
  EXPECT_LT(absl::Now() - t0, absl::Seconds(3));
  EXPECT_THAT(std::string(st.message()), HasSubstr("timed out after 300ms"));
}

TEST_F(JailLifecycleTest, JailSeesNoHostProcessesMountsOrHostname) {
  platform::JailSpec s = Spec("iso1");
  s.hostname = "iso-host";
  s.network.mode = platform::NetworkMode::kNew;
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("iso1").ok());
  ShellResult r = JailShell(*manager_, "iso1", "hostname; cat /proc/1/comm; ls /proc | grep -c '^[0-9]'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0], "iso-host");
  EXPECT_EQ(lines[1], "jailwarden-init");
  // pid 1, the shell, ls and grep at most.
  EXPECT_LE(std::stoi(lines[2]), 4);
  char host[256] = {};
  gethostname(host, sizeof(host));
  EXPECT_NE(std::string(host), "iso-host");
  // Mounts: only the jail's own.
  r = JailShell(*manager_, "iso1", "cat /proc/mounts");
  EXPECT_THAT(r.out, Not(HasSubstr("/sys/fs/cgroup")));
  EXPECT_THAT(r.out, Not(HasSubstr(ws_.top)));
  EXPECT_THAT(r.out, HasSubstr("devpts /dev/pts devpts"));
  // The cgroup namespace is rooted at the jail's cgroup.
  r = JailShell(*manager_, "iso1", "cat /proc/self/cgroup");
  EXPECT_THAT(r.out, HasSubstr("0::/\n"));
  // Devices and a devpts of its own.
  r = JailShell(*manager_, "iso1",
                "echo x > /dev/null && head -c 4 /dev/urandom | wc -c && ls /dev/pts");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("4\nptmx"));
  // Network: loopback only, and up.
  r = JailShell(*manager_, "iso1", "ls /sys/class/net 2>/dev/null; ip -o link | cut -d: -f2");
  EXPECT_EQ(r.out, " lo\n");
  EXPECT_EQ(JailShell(*manager_, "iso1", "ping -c 1 -W 1 127.0.0.1 >/dev/null").exit_code, 0);
  ASSERT_TRUE(manager_->Destroy("iso1").ok());
}

TEST_F(JailLifecycleTest, ReadOnlyMountIsReadOnlyAndReadWriteIsNot) {
  std::string ro = ws_.top + "/ro", rw = ws_.top + "/rw";
  mkdir(ro.c_str(), 0755);
  mkdir(rw.c_str(), 0755);
  WriteText(ro + "/hello", "hi\n");
  platform::JailSpec s = Spec("mnt1");
  s.mounts.push_back({ro, "/ro", "nullfs", true, ""});
  s.mounts.push_back({rw, "/rw", "nullfs", false, ""});
  s.mounts.push_back({"tmpfs", "/scratch", "tmpfs", false, "size=1m"});
  WriteText(ws_.top + "/motd", "copied\n");
  s.copies.push_back({ws_.top + "/motd", "/etc/motd"});
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("mnt1").ok());
  EXPECT_EQ(JailShell(*manager_, "mnt1", "cat /ro/hello").out, "hi\n");
  ShellResult w = JailShell(*manager_, "mnt1", "touch /ro/x 2>&1");
  EXPECT_NE(w.exit_code, 0);
  EXPECT_THAT(w.out, HasSubstr("Read-only file system"));
  EXPECT_FALSE(PathExists(ro + "/x"));
  EXPECT_EQ(JailShell(*manager_, "mnt1", "echo data > /rw/y && touch /scratch/z").exit_code, 0);
  EXPECT_EQ(ReadText(rw + "/y"), "data\n");
  EXPECT_EQ(JailShell(*manager_, "mnt1", "cat /etc/motd").out, "copied\n");
  ASSERT_TRUE(manager_->Destroy("mnt1").ok());
}

TEST_F(JailLifecycleTest, ThinJailsShareAReadOnlyBase) {
  std::string base = ws_.CopyRoot("base");
  platform::JailSpec a = Spec("thin1");
  platform::JailSpec b = Spec("thin2");
  RemoveTree(a.path);
  RemoveTree(b.path);
  a.base_root = b.base_root = base;
  ASSERT_TRUE(manager_->Create(a).ok());
  ASSERT_TRUE(manager_->Create(b).ok());
  ASSERT_TRUE(manager_->Start("thin1").ok());
  ASSERT_TRUE(manager_->Start("thin2").ok());
  EXPECT_EQ(JailShell(*manager_, "thin1", "echo mine > /etc/only-thin1 && rm /bin/vi").exit_code, 0);
  // The write lands in thin1's own layer; the base and thin2 do not see it.
  EXPECT_EQ(ReadText(a.path + "/etc/only-thin1"), "mine\n");
  EXPECT_FALSE(PathExists(base + "/etc/only-thin1"));
  EXPECT_TRUE(PathExists(base + "/bin/vi"));
  EXPECT_NE(JailShell(*manager_, "thin2", "test -e /etc/only-thin1").exit_code, 0);
  EXPECT_EQ(JailShell(*manager_, "thin2", "test -e /bin/vi").exit_code, 0);
  ASSERT_TRUE(manager_->Destroy("thin1").ok());
  ASSERT_TRUE(manager_->Destroy("thin2").ok());
  // Work dirs are gone; the per-jail layers stay (they are the jails' data).
  EXPECT_FALSE(PathExists(ws_.top + "/roots/.thin1.jw-work"));
  EXPECT_TRUE(PathExists(a.path + "/etc/only-thin1"));
}

TEST_F(JailLifecycleTest, PersistKeepsAnEmptyJailAndNoPersistEndsWithItsLastProcess) {
  platform::JailSpec keep = Spec("pers1");
  ASSERT_TRUE(manager_->Create(keep).ok());
  ASSERT_TRUE(manager_->Start("pers1").ok());
  platform::JailSpec brief = Spec("pers2");
  brief.persist = false;
  brief.exec.start = {"sleep 1 &"};
  ASSERT_TRUE(manager_->Create(brief).ok());
  ASSERT_TRUE(manager_->Start("pers2").ok());
  absl::SleepFor(absl::Milliseconds(400));
  EXPECT_EQ(manager_->Get("pers2")->state, jail::JailState::kRunning);
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (manager_->Get("pers2")->state != jail::JailState::kStopped && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(manager_->Get("pers2")->state, jail::JailState::kStopped);
  EXPECT_EQ(manager_->Get("pers1")->state, jail::JailState::kRunning);
  ASSERT_TRUE(manager_->Destroy("pers1").ok());
  ASSERT_TRUE(manager_->Destroy("pers2").ok());
}

// Issue 16: an idle jailwarden-init sleeps until something happens (it used
// to wake every 250 ms: 800 wake-ups a second on a host of 200 jails, and
// the daemon's slow tier then read every init in full as a process that
// ran). Its context switches over 1.5 s of nothing stay at most one.
TEST_F(JailLifecycleTest, IdleInitDoesNotWakeUp) {
  platform::JailSpec s = Spec("idle1");
  s.exec.start = {"sleep 60 > /dev/null 2>&1 &"};
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("idle1").ok());
  const int64_t pid = manager_->Get("idle1")->instance.init_pid;
  ASSERT_GT(pid, 0);
  auto switches = [pid]() -> int64_t {
    int64_t total = 0;
    for (absl::string_view line : absl::StrSplit(ReadText(absl::StrCat("/proc/", pid, "/status")), '\n')) {
      int64_t v = 0;
      if ((absl::ConsumePrefix(&line, "voluntary_ctxt_switches:") ||
           absl::ConsumePrefix(&line, "nonvoluntary_ctxt_switches:")) &&
          absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &v)) {
        total += v;
      }
    }
    return total;
  };
  const int64_t before = switches();
  ASSERT_GT(before, 0);
  absl::SleepFor(absl::Milliseconds(1500));  // the window measured, not a wait
  EXPECT_LE(switches() - before, 1);  // 6 with the 250 ms poll
  ASSERT_TRUE(manager_->Destroy("idle1").ok());
}

// The other side of the idle sleep: a non-persist jail whose last process
// entered it from outside (the setns helper: its parent is not in the jail,
// so its exit sends init no SIGCHLD) still ends, soon after that process.
TEST_F(JailLifecycleTest, NoPersistEndsAfterALastProcessThatEnteredFromOutside) {
  JailWorkspace longws = ws_;
  longws.run_dir = ws_.top + "/run-" + std::string(100, 'x');
  longws.state_dir = ws_.top + "/state-helper";
  std::unique_ptr<jail::Manager> m = OpenManager(longws);
  ASSERT_NE(m, nullptr);
  platform::JailSpec s = Spec("outs1");
  s.persist = false;
  s.exec.start = {"sleep 2 > /dev/null 2>&1 &"};  // made in the jail: init's
  ASSERT_TRUE(m->Create(s).ok());
  absl::Status st = m->Start("outs1");
  ASSERT_TRUE(st.ok()) << st;
  // Entered through setns while the sleep holds the jail; outlives it.
  absl::StatusOr<platform::ExecResult> outside = absl::UnknownError("not run");
  std::thread t([&] {
    platform::ExecRequest req;
    req.argv = {"sleep", "3"};
    outside = m->Exec("outs1", req);
  });
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (m->Get("outs1")->state != jail::JailState::kStopped && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  t.join();
  ASSERT_TRUE(outside.ok()) << outside.status();
  EXPECT_EQ(outside->exit_code, 0);  // the jail lived as long as it
  EXPECT_EQ(m->Get("outs1")->state, jail::JailState::kStopped);
  EXPECT_TRUE(m->Destroy("outs1").ok());
  EXPECT_TRUE(m->StopAll().ok());
}

TEST_F(JailLifecycleTest, StopTimeoutKillsWhatIgnoresSigterm) {
  platform::JailSpec s = Spec("stub1");
  s.stop_timeout = absl::Milliseconds(500);
  s.exec.start = {"(trap '' TERM; sleep 60) > /dev/null 2>&1 &", "sleep 60 > /dev/null 2>&1 &"};
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("stub1").ok());
  absl::Time t0 = absl::Now();
  ASSERT_TRUE(manager_->Stop("stub1").ok());
  absl::Duration took = absl::Now() - t0;
  EXPECT_GE(took, absl::Milliseconds(450));
  EXPECT_LT(took, absl::Seconds(3));
  ASSERT_TRUE(manager_->Destroy("stub1").ok());
}

TEST_F(JailLifecycleTest, DependenciesStartFirstAndStopLast) {
  platform::JailSpec db = Spec("dep-db");
  platform::JailSpec web = Spec("dep-web");
  web.depend = {"dep-db"};
  ASSERT_TRUE(manager_->Create(web).ok());
  ASSERT_TRUE(manager_->Create(db).ok());
  ASSERT_TRUE(manager_->Start("dep-web").ok());
  EXPECT_EQ(manager_->Get("dep-db")->state, jail::JailState::kRunning);
  EXPECT_LT(manager_->Get("dep-db")->jid, manager_->Get("dep-web")->jid);
  events_.clear();
  ASSERT_TRUE(manager_->Stop("dep-db").ok());
  std::vector<std::string> removed;
  for (const auto& e : events_) {
    if (e.step == "remove") removed.push_back(e.jail);
  }
  EXPECT_THAT(removed, ElementsAre("dep-web", "dep-db"));
  ASSERT_TRUE(manager_->Destroy("dep-web").ok());
  ASSERT_TRUE(manager_->Destroy("dep-db").ok());
}

TEST_F(JailLifecycleTest, RunIsOneShotWithTheExitStatusPassedThrough) {
  platform::JailSpec s = Spec("");
  s.name = "";
  s.path = ws_.CopyRoot("oneshot");
  s.persist = false;
  s.network.mode = platform::NetworkMode::kNew;
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  platform::ExecRequest req;
  req.argv = {"/bin/sh", "-c", "echo pid=$$ host=$(hostname); exit 42"};
  req.stdout_fd = fds[1];
  auto r = manager_->Run(s, req);
  close(fds[1]);
  char buf[256] = {};
  ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
  close(fds[0]);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 42);
  EXPECT_GT(n, 0);
  EXPECT_THAT(std::string(buf), HasSubstr("pid=2 host=run-"));
  EXPECT_TRUE(manager_->List().empty());
  // A signal is passed through too.
  req.argv = {"/bin/sh", "-c", "kill -9 $$"};
  req.stdout_fd = -1;
  r = manager_->Run(s, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->term_signal, 9);
}

// With a run_dir too long for a unix socket path, commands enter the jail
// through the setns helper (join cgroups, setns via pidfd, fork) instead.
TEST_F(JailLifecycleTest, SetnsFallbackRunsCommandsInTheJail) {
  JailWorkspace longws = ws_;
  longws.run_dir = ws_.top + "/run-" + std::string(100, 'x');
  std::unique_ptr<jail::Manager> m = OpenManager(longws);
  ASSERT_NE(m, nullptr);
  platform::JailSpec s = Spec("fallback1");
  s.hostname = "fb";
  s.exec.start = {"sleep 30 > /dev/null 2>&1 &"};
  s.exec.timeout = absl::Seconds(5);
  ASSERT_TRUE(m->Create(s).ok());
  absl::Status st = m->Start("fallback1");
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(m->Get("fallback1")->instance.backend_state.count("init.socket"), 0u);
  ShellResult r = JailShell(*m, "fallback1", "hostname; cat /proc/self/cgroup | grep -c ':/$'; ps -o comm | grep -c sleep");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "fb\n10\n1\n");
  platform::ExecRequest req;
  req.argv = {"sleep", "10"};
  req.timeout = absl::Milliseconds(200);
  auto timed = m->Exec("fallback1", req);
  ASSERT_TRUE(timed.ok());
  EXPECT_TRUE(timed->timed_out);
  ASSERT_TRUE(m->Destroy("fallback1").ok());
}

// A jail whose command socket went away (its runtime directory emptied
// while it ran) is still entered, through the setns helper.
TEST_F(JailLifecycleTest, MissingInitSocketFallsBackToSetns) {
  platform::JailSpec s = Spec("nosock1");
  s.hostname = "ns";
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("nosock1").ok());
  const std::map<std::string, std::string> bs =
      manager_->Get("nosock1")->instance.backend_state;
  ASSERT_EQ(bs.count("init.socket"), 1u);
  ASSERT_EQ(unlink(bs.at("init.socket").c_str()), 0);
  ShellResult r = JailShell(*manager_, "nosock1", "hostname");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "ns\n");
  ASSERT_TRUE(manager_->Destroy("nosock1").ok());
}

TEST_F(JailLifecycleTest, FiftyJailsLeaveNothingBehind) {
  std::string base = ws_.CopyRoot("base50");
  constexpr int kJails = 50;
  for (int i = 0; i < kJails; ++i) {
    platform::JailSpec s;
    s.name = "many" + std::to_string(i);
    s.path = ws_.top + "/roots/thin-many" + std::to_string(i);
    s.base_root = base;
    s.persist = true;
    s.network.mode = (i % 5 == 0) ? platform::NetworkMode::kNew : platform::NetworkMode::kInherit;
    s.exec.start = {"sleep 30 > /dev/null 2>&1 &"};
    s.stop_timeout = absl::Seconds(2);
    ASSERT_TRUE(manager_->Create(s).ok());
    absl::Status st = manager_->Start(s.name);
    ASSERT_TRUE(st.ok()) << st;
  }
  int running = 0;
  for (const auto& r : manager_->List()) {
    running += r.state == jail::JailState::kRunning;
  }
  EXPECT_EQ(running, kJails);
  for (int i = 0; i < kJails; ++i) {
    absl::Status st = manager_->Destroy("many" + std::to_string(i));
    ASSERT_TRUE(st.ok()) << st;
  }
  EXPECT_TRUE(manager_->List().empty());
  EXPECT_TRUE(ListDir(ws_.run_dir).empty());
}

}  // namespace
}  // namespace jailwarden::testing
