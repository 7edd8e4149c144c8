// Issue 17 on FreeBSD: a daemon restart or kill -9 loses nothing of a
// jail's supervised main process. The whole serve path in process over
// FakeFreeBsdKernel, the jail's main-process host (main_host.h) kept by a
// launcher that outlives the daemon, as jailwarden-supervise outlives it
// on FreeBSD, and the real jailwarden-logd: the main process runs on
// through the daemon's end, is restarted per policy while no daemon runs,
// is found again by the next daemon with its record (restarts, last exit),
// is restarted again when killed after that, and its output from before
// and after the daemon's end is all in the jail's logs.

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "freebsd_web_fixture.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/logs.h"

namespace jailwarden::service {
namespace {


constexpr char kPolicy[] = R"(server:
  state_dir: STATE
jails:
  web:
    path: /srv/web
    command: [httpd, -f]
    restart: on-failure
    restart_backoff: {initial: 10ms, max: 40ms}
)";

class FreeBsdMainHostTest : public FreeBsdWebDaemonTest {
 protected:
  void SetUp() override {
    MakeStateDir("jw-fbhost");
    if (HasFatalFailure()) return;
    launcher_ = std::make_shared<platform::InProcessMainLauncher>(kernel_);
    // The program writes one line to its stdout when it starts.
    kernel_.SetMainHandler([](pid_t pid, const platform::FakeCommand& cmd) {
      const std::string line = StrCat("httpd up pid ", static_cast<int64_t>(pid), "\n");
      if (cmd.stdout_fd >= 0) (void)!write(cmd.stdout_fd, line.data(), line.size());
    });
    StartDaemon();
  }
  void StartDaemon() { FreeBsdWebDaemonTest::StartDaemon(kPolicy); }
  // Polls (bounded) until the main process record satisfies `ok`.
  template <typename F>
  std::optional<platform::MainProcessStatus> WaitMain(F ok) {
    std::optional<platform::MainProcessStatus> m;
    for (int i = 0; i < 1000; ++i) {
      m = WebMain();
      if (m.has_value() && ok(*m)) break;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return m;
  }
  // Polls (bounded) until the jail's logs hold `text` in a main record.
  bool LogsHold(const std::string& dir, const std::string& text) {
    for (int i = 0; i < 500; ++i) {
      absl::StatusOr<std::vector<jail::LogRecord>> r = jail::ReadLogs(dir, jail::LogQuery{});
      if (r.ok()) {
        for (const jail::LogRecord& rec : *r) {
          if (rec.source == "main" && rec.stream == "stdout" && rec.text == text) return true;
        }
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }
  static std::string Up(int64_t pid) { return StrCat("httpd up pid ", pid); }

};

TEST_F(FreeBsdMainHostTest, DaemonEndLosesNeitherTheProcessNorItsRecordNorItsOutput) {
  std::optional<platform::MainProcessStatus> m =
      WaitMain([](const platform::MainProcessStatus& s) { return s.running; });
  ASSERT_TRUE(m.has_value() && m->running);
  const int64_t first = m->pid;
  absl::StatusOr<std::string> dir = daemon_->JailLogDir("web");
  ASSERT_TRUE(dir.ok()) << dir.status();
  ASSERT_TRUE(LogsHold(*dir, Up(first)));

  // The daemon ends without stopping its jails (a kill -9 as far as the
  // host is concerned: nothing is handed over).
  daemon_.reset();
  ASSERT_TRUE(kernel_.Process(static_cast<pid_t>(first)).has_value());
  ASSERT_TRUE(kernel_.PrisonByName("web").has_value());

  // While no daemon runs, the jail's root kills it: the host restarts it.
  ASSERT_EQ(kernel_.Kill(static_cast<pid_t>(first), 9), 0);
  int64_t second = 0;
  for (int i = 0; i < 1000 && second == 0; ++i) {
    for (const auto& [pid, user] : kernel_.MainChildren()) {
      if (pid != first && kernel_.Process(pid).has_value()) second = pid;
    }
    if (second == 0) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_NE(second, 0) << "not restarted while the daemon was down";
  ASSERT_TRUE(LogsHold(*dir, Up(second)));

  // The next daemon adopts the jail and reads the same record.
  StartDaemon();
  ASSERT_NE(daemon_, nullptr);
  m = WaitMain([&](const platform::MainProcessStatus& s) {
    return s.running && s.pid == second;
  });
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->pid, second);
  EXPECT_EQ(m->restarts, 1);
  EXPECT_TRUE(m->exited);
  EXPECT_EQ(m->exit_signal, 9);

  // Killed again under the new daemon: recorded, restarted per policy.
  ASSERT_EQ(kernel_.Kill(static_cast<pid_t>(second), 9), 0);
  m = WaitMain([&](const platform::MainProcessStatus& s) {
    return s.running && s.restarts == 2;
  });
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->restarts, 2);
  EXPECT_EQ(m->exit_signal, 9);
  const int64_t third = m->pid;
  EXPECT_NE(third, second);

  // Every line, from before and after the daemon's end, is in the logs.
  EXPECT_TRUE(LogsHold(*dir, Up(first)));
  EXPECT_TRUE(LogsHold(*dir, Up(second)));
  EXPECT_TRUE(LogsHold(*dir, Up(third)));

  // Stopping the jail stops it first and ends its host.
  ASSERT_TRUE(daemon_->StopJail("web").ok());
  EXPECT_FALSE(kernel_.Process(static_cast<pid_t>(third)).has_value());
  EXPECT_FALSE(kernel_.PrisonByName("web").has_value());
  EXPECT_NE(access(StrCat(RunDirFor(state_), "/main/web.sock").c_str(), F_OK), 0);
}

TEST_F(FreeBsdMainHostTest, RecordOutlivesTheHost) {
  std::optional<platform::MainProcessStatus> m =
      WaitMain([](const platform::MainProcessStatus& s) { return s.running; });
  ASSERT_TRUE(m.has_value() && m->running);
  const int64_t first = m->pid;
  ASSERT_EQ(kernel_.Kill(static_cast<pid_t>(first), 9), 0);
  m = WaitMain([](const platform::MainProcessStatus& s) { return s.restarts == 1 && s.running; });
  ASSERT_TRUE(m.has_value());
  // The record on disk says the same, written atomically by the host.
  const std::string record = StrCat(RunDirFor(state_), "/main/web.status");
  bool written = false;
  for (int i = 0; i < 500 && !written; ++i) {
    written = access(record.c_str(), F_OK) == 0;
    if (!written) absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(written);
  // The host goes (on FreeBSD: jailwarden-supervise killed): the daemon
  // still shows the last exit from the record.
  daemon_.reset();
  launcher_.reset();
  launcher_ = std::make_shared<platform::InProcessMainLauncher>(kernel_);
  StartDaemon();
  m = WaitMain([](const platform::MainProcessStatus& s) { return s.restarts == 1; });
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->restarts, 1);
  EXPECT_EQ(m->exit_signal, 9);
  ASSERT_TRUE(daemon_->StopJail("web").ok());
}

}  // namespace
}  // namespace jailwarden::service
