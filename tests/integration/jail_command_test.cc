// Root-only (issue 17): a jail's supervised main process (`command:`) in
// real Linux jails — restarted per policy after a kill -9 from inside the
// jail, `restart: no` stays down with its exit recorded, the restart limit
// holds it down, a stop ends it (SIGTERM) before exec.stop, and its record
// survives the manager (the daemon) going away and coming back. Its output
// and the hooks' are in the jail's logs (jail_logs_test.cc).

#include <signal.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/jail_env.h"
#include "helpers/link_local.h"

namespace jailwarden::testing {
namespace {

using ::testing::HasSubstr;

class JailCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    ws_ = JailWorkspace::Make("cmd");
    ASSERT_FALSE(BusyboxBase().empty());
    before_ = HostSnapshot::Take(ws_.cgroup_parent);
    manager_ = OpenManager(ws_);
    ASSERT_NE(manager_, nullptr);
  }
  void TearDown() override {
    if (manager_ != nullptr) {
      EXPECT_TRUE(manager_->StopAll().ok());
      manager_.reset();
      ExpectNothingLeft(before_, ws_.cgroup_parent);
    }
    RemoveTree(ws_.top);
  }

  platform::JailSpec Spec(const std::string& name, std::vector<std::string> argv) {
    platform::JailSpec s;
    s.name = name;
    s.path = ws_.CopyRoot(name);
    s.stop_timeout = absl::Seconds(2);
    s.main.argv = std::move(argv);
    s.main.backoff_initial = absl::Milliseconds(50);
    s.main.backoff_max = absl::Milliseconds(200);
    return s;
  }

  // Polls the main process's record until `done` holds (at most 10 s).
  platform::MainProcessStatus WaitFor(const std::string& name,
                                      const std::function<bool(const platform::MainProcessStatus&)>& done) {
    platform::MainProcessStatus last;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      absl::StatusOr<platform::MainProcessStatus> s = manager_->MainStatus(name);
      EXPECT_TRUE(s.ok()) << s.status();
      if (!s.ok()) return last;
      last = *s;
      if (done(last)) return last;
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << "main process of " << name << " never reached the state; last: running="
                  << last.running << " restarts=" << last.restarts << " exited=" << last.exited;
    return last;
  }

  JailWorkspace ws_;
  HostSnapshot before_;
  std::unique_ptr<jail::Manager> manager_;
};

TEST_F(JailCommandTest, KillNineInsideTheJailRestartsItAndCountsIt) {
  platform::JailSpec s = Spec("cmd1", {"/bin/sleep", "1000"});
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("cmd1").ok());
  platform::MainProcessStatus m = WaitFor("cmd1", [](const auto& st) { return st.running; });
  EXPECT_EQ(m.restarts, 0);
  EXPECT_FALSE(m.exited);
  // The jail's root kills it: the supervisor starts it again.
  ShellResult k = JailShell(*manager_, "cmd1", "kill -9 " + std::to_string(m.pid));
  EXPECT_EQ(k.exit_code, 0);
  m = WaitFor("cmd1", [](const auto& st) { return st.running && st.restarts == 1; });
  EXPECT_TRUE(m.exited);
  EXPECT_EQ(m.exit_signal, SIGKILL);
  EXPECT_FALSE(m.oom_killed);
  EXPECT_GT(m.exit_time, absl::Now() - absl::Seconds(30));
  EXPECT_FALSE(m.gave_up);
}

TEST_F(JailCommandTest, RestartNoStaysDownWithItsExitRecordedAndTheJailUp) {
  platform::JailSpec s = Spec("cmd2", {"/bin/sh", "-c", "exit 3"});
  s.main.restart = platform::RestartPolicy::kNo;
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("cmd2").ok());
  platform::MainProcessStatus m = WaitFor("cmd2", [](const auto& st) { return st.exited; });
  EXPECT_FALSE(m.running);
  EXPECT_EQ(m.exit_code, 3);
  EXPECT_EQ(m.exit_signal, 0);
  // It stays down: still one start half a second later, the jail running.
  absl::SleepFor(absl::Milliseconds(500));
  absl::StatusOr<platform::MainProcessStatus> again = manager_->MainStatus("cmd2");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->starts, 1);
  EXPECT_FALSE(again->running);
  EXPECT_EQ(JailShell(*manager_, "cmd2", "true").exit_code, 0);
}

TEST_F(JailCommandTest, RestartLimitReachedStaysDown) {
  platform::JailSpec s = Spec("cmd3", {"/bin/sh", "-c", "exit 1"});
  s.main.limit_count = 2;
  s.main.limit_window = absl::Seconds(60);
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("cmd3").ok());
  platform::MainProcessStatus m = WaitFor("cmd3", [](const auto& st) { return st.gave_up; });
  EXPECT_EQ(m.restarts, 2);
  EXPECT_EQ(m.starts, 3);
  EXPECT_FALSE(m.running);
  EXPECT_EQ(m.exit_code, 1);
  absl::SleepFor(absl::Milliseconds(500));  // backoff max is 200ms: nothing more
  absl::StatusOr<platform::MainProcessStatus> again = manager_->MainStatus("cmd3");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->starts, 3);
}

TEST_F(JailCommandTest, StopEndsTheMainProcessBeforeExecStop) {
  platform::JailSpec s = Spec(
      "cmd4", {"/bin/sh", "-c",
               "trap 'echo term > /tmp/main-got-term; exit 0' TERM; while :; do sleep 0.1; done"});
  // exec.stop sees the main process already gone.
  s.exec.stop = {"test -f /tmp/main-got-term && echo yes > /tmp/stop-saw-it"};
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("cmd4").ok());
  WaitFor("cmd4", [](const auto& st) { return st.running; });
  ASSERT_TRUE(manager_->Stop("cmd4").ok());
  EXPECT_THAT(ReadText(s.path + "/tmp/stop-saw-it"), HasSubstr("yes"));
}

TEST_F(JailCommandTest, TheRecordOutlivesTheManagerAndIsReadAgainOnAdoption) {
  platform::JailSpec s = Spec("cmd5", {"/bin/sleep", "1000"});
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("cmd5").ok());
  platform::MainProcessStatus m = WaitFor("cmd5", [](const auto& st) { return st.running; });
  ASSERT_EQ(JailShell(*manager_, "cmd5", "kill -9 " + std::to_string(m.pid)).exit_code, 0);
  WaitFor("cmd5", [](const auto& st) { return st.running && st.restarts == 1; });
  // The daemon goes away (no stop) and a new one adopts the jail.
  manager_.reset();
  manager_ = OpenManager(ws_);
  ASSERT_NE(manager_, nullptr);
  m = WaitFor("cmd5", [](const auto& st) { return st.running; });
  EXPECT_EQ(m.restarts, 1);
  EXPECT_EQ(m.exit_signal, SIGKILL);
}

// A foreground service as the command: busybox httpd -f in a vnet jail,
// reachable from the host over the veth, and again after the jail's root
// kill -9s it.
TEST_F(JailCommandTest, ForegroundHttpdIsReachableOverVethAndComesBackAfterKill) {
  const std::string routes_before = HostShell("ip -4 route show table all").out;
  const std::string prefix = PickLinkLocalSubnet();
  ASSERT_FALSE(prefix.empty()) << "no free 169.254.N.0/30";
  const std::string addr = prefix + "2";
  platform::JailSpec s = Spec("web1", {"httpd", "-f", "-p", addr + ":8080", "-h", "/www"});
  s.network.mode = platform::NetworkMode::kVnet;
  s.network.ip4_addresses = {addr + "/30"};
  s.network.host_ip4 = prefix + "1/30";
  ASSERT_EQ(system(("mkdir -p '" + s.path + "/www' && echo served-from-jail > '" + s.path +
                    "/www/index.html'")
                       .c_str()),
            0);
  ASSERT_TRUE(manager_->Create(s).ok());
  absl::Status st = manager_->Start("web1");
  ASSERT_TRUE(st.ok()) << st;
  // Host -> jail: one bounded request per try, for at most 5 s.
  auto fetch = [&] {
    ShellResult r;
    for (int i = 0; i < 25; ++i) {
      r = HostShell("curl -sS --noproxy '*' -m 1 http://" + addr + ":8080/index.html 2>&1");
      if (r.exit_code == 0) return r.out;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return "unreachable: " + r.out + " | in the jail: " +
           JailShell(*manager_, "web1",
                     "netstat -ltn 2>&1; wget -q -O - http://" + addr + ":8080/index.html 2>&1")
               .out;
  };
  EXPECT_EQ(fetch(), "served-from-jail\n");
  platform::MainProcessStatus m = WaitFor("web1", [](const auto& x) { return x.running; });
  ASSERT_EQ(JailShell(*manager_, "web1", "kill -9 " + std::to_string(m.pid)).exit_code, 0);
  m = WaitFor("web1", [](const auto& x) { return x.running && x.restarts == 1; });
  EXPECT_EQ(m.exit_signal, SIGKILL);
  EXPECT_EQ(fetch(), "served-from-jail\n");
  ASSERT_TRUE(manager_->Stop("web1").ok());
  EXPECT_EQ(HostShell("ip -4 route show table all").out, routes_before);
}

// Host pids whose command line is exactly `argv` (from /proc).
std::vector<int> PidsRunning(const std::vector<std::string>& argv) {
  std::string want;
  for (const std::string& a : argv) want += a + std::string(1, '\0');
  std::vector<int> out;
  for (const std::string& e : ListDir("/proc")) {
    if (e.find_first_not_of("0123456789") != std::string::npos) continue;
    if (ReadText("/proc/" + e + "/cmdline") == want) out.push_back(std::stoi(e));
  }
  return out;
}

// Issue 17: a health check is `sh -c` in the jail through the exec path;
// at its timeout what it started must end with it, or every interval
// leaves another process behind in the jail.
TEST_F(JailCommandTest, ATimedOutExecKillsWhatTheCommandStarted) {
  platform::JailSpec s = Spec("cmd6", {});
  s.persist = true;
  ASSERT_TRUE(manager_->Create(s).ok());
  ASSERT_TRUE(manager_->Start("cmd6").ok());
  platform::ExecRequest req;
  req.argv = {"/bin/sh", "-c", "sleep 3117 & sleep 3118 & wait"};
  req.timeout = absl::Seconds(1);
  absl::StatusOr<platform::ExecResult> r = manager_->Exec("cmd6", req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  std::vector<int> left;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  do {
    left = PidsRunning({"sleep", "3117"});
    for (int p : PidsRunning({"sleep", "3118"})) left.push_back(p);
    if (!left.empty()) absl::SleepFor(absl::Milliseconds(20));
  } while (!left.empty() && absl::Now() < deadline);
  EXPECT_TRUE(left.empty()) << left.size() << " of the command's children still run";
  // The jail is unharmed: it still runs commands.
  EXPECT_EQ(JailShell(*manager_, "cmd6", "true").exit_code, 0);
}

}  // namespace
}  // namespace jailwarden::testing
