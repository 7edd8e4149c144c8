// The FreeBSD backend's supervised main process (`command:`, issue 17)
// against FakeFreeBsdKernel: started jexec-style as exec.jail_user,
// restarted per policy after a kill by the jail's root, its exit recorded,
// `restart: no` and the restart limit leave it down, a stop ends it
// (SIGTERM, SIGKILL after the timeout) without a restart, and it holds a
// jail without persist.

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "fakes/freebsd/fake_kernel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/platform/freebsd/jail_runtime.h"

namespace jailwarden::platform {
namespace {

using ::testing::Contains;
using ::testing::Not;

class FreeBsdMainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_.name = "svc";
    spec_.path = "/jails/svc";
    ASSERT_TRUE(runtime_.Create(spec_, inst_).ok());
    main_.argv = {"httpd", "-f"};
    main_.restart = RestartPolicy::kOnFailure;
    main_.backoff_initial = absl::Milliseconds(10);
    main_.backoff_max = absl::Milliseconds(40);
  }
  absl::StatusOr<MainProcessStatus> StartMain(const std::string& user = "") {
    ExecRequest req;
    req.argv = main_.argv;
    req.env["PATH"] = "/bin:/usr/bin";
    return runtime_.StartMain(inst_, req, main_, user);
  }
  // Polls the record until `done` (at most 10 s).
  MainProcessStatus WaitFor(const std::function<bool(const MainProcessStatus&)>& done) {
    MainProcessStatus last;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      absl::StatusOr<MainProcessStatus> s = runtime_.MainStatus(inst_);
      EXPECT_TRUE(s.ok()) << s.status();
      if (!s.ok()) return last;
      last = *s;
      if (done(last)) return last;
      absl::SleepFor(absl::Milliseconds(5));
    }
    ADD_FAILURE() << "never reached; running=" << last.running << " starts=" << last.starts
                  << " exited=" << last.exited;
    return last;
  }

  static std::string TempDir() {
    char dir[] = "/tmp/jw-fbmain-XXXXXX";
    return mkdtemp(dir) != nullptr ? std::string(dir) : std::string();
  }
  static FreeBsdJailRuntimeOptions Options(const std::string& main_dir) {
    FreeBsdJailRuntimeOptions o;
    o.main_dir = main_dir;  // the hosts' sockets and records (main_host.h)
    return o;
  }
  void TearDown() override {
    if (!main_dir_.empty()) (void)std::system(StrCat("rm -rf '", main_dir_, "'").c_str());
  }

  std::string main_dir_ = TempDir();
  FakeFreeBsdKernel kernel_;
  FreeBsdJailRuntime runtime_{kernel_, Options(main_dir_)};
  JailSpec spec_;
  JailInstance inst_;
  MainSpec main_;
};

TEST_F(FreeBsdMainTest, AKillByTheJailsRootIsRestartedAndRecorded) {
  absl::StatusOr<MainProcessStatus> st = StartMain("www");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(st->running);
  EXPECT_EQ(st->starts, 1);
  const pid_t first = static_cast<pid_t>(st->pid);
  // jexec -U: in the jail, as the jail's user.
  EXPECT_THAT(kernel_.calls(),
              Contains(StrCat("spawn-main(jid=", inst_.ref.jid, ", user=www) httpd -f")));
  std::optional<FakeProcess> p = kernel_.Process(first);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->jid, inst_.ref.jid);
  EXPECT_EQ(kernel_.MainChildren().at(first), "www");

  ASSERT_EQ(kernel_.Kill(first, 9), 0);  // kill -9 from inside the jail
  MainProcessStatus m = WaitFor([](const auto& s) { return s.running && s.restarts == 1; });
  EXPECT_TRUE(m.exited);
  EXPECT_EQ(m.exit_signal, 9);
  EXPECT_FALSE(m.gave_up);
  EXPECT_NE(m.pid, first);
  EXPECT_GT(m.exit_time, absl::Now() - absl::Seconds(30));
  EXPECT_TRUE(kernel_.Process(static_cast<pid_t>(m.pid)).has_value());

  // A clean exit under on-failure: recorded, not restarted.
  kernel_.ExitProcessWithCode(static_cast<pid_t>(m.pid), 0);
  m = WaitFor([](const auto& s) { return !s.running; });
  EXPECT_EQ(m.exit_code, 0);
  EXPECT_EQ(m.exit_signal, 0);
  absl::SleepFor(absl::Milliseconds(100));  // 10x the backoff: nothing more
  absl::StatusOr<MainProcessStatus> again = runtime_.MainStatus(inst_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->starts, 2);
  EXPECT_FALSE(again->running);
}

TEST_F(FreeBsdMainTest, RestartNoStaysDownWithItsExitCode) {
  main_.restart = RestartPolicy::kNo;
  absl::StatusOr<MainProcessStatus> st = StartMain();
  ASSERT_TRUE(st.ok()) << st.status();
  kernel_.ExitProcessWithCode(static_cast<pid_t>(st->pid), 3);
  MainProcessStatus m = WaitFor([](const auto& s) { return s.exited; });
  EXPECT_EQ(m.exit_code, 3);
  EXPECT_FALSE(m.running);
  absl::SleepFor(absl::Milliseconds(100));
  absl::StatusOr<MainProcessStatus> again = runtime_.MainStatus(inst_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->starts, 1);
  // A second one in the same jail is refused while configured.
  EXPECT_EQ(StartMain().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(FreeBsdMainTest, TheRestartLimitLeavesItDown) {
  main_.restart = RestartPolicy::kAlways;
  main_.limit_count = 2;
  main_.limit_window = absl::Seconds(60);
  absl::StatusOr<MainProcessStatus> st = StartMain();
  ASSERT_TRUE(st.ok()) << st.status();
  for (int i = 0; i < 3; ++i) {
    MainProcessStatus m = WaitFor([](const auto& s) { return s.running; });
    kernel_.ExitProcessWithCode(static_cast<pid_t>(m.pid), 1);
    WaitFor([](const auto& s) { return !s.running; });
  }
  MainProcessStatus m = WaitFor([](const auto& s) { return s.gave_up; });
  EXPECT_EQ(m.starts, 3);
  EXPECT_EQ(m.restarts, 2);
  EXPECT_EQ(m.exit_code, 1);
  EXPECT_FALSE(m.running);
}

TEST_F(FreeBsdMainTest, StopTermsThenKillsAndNothingRestarts) {
  absl::StatusOr<MainProcessStatus> st = StartMain();
  ASSERT_TRUE(st.ok()) << st.status();
  const pid_t pid = static_cast<pid_t>(st->pid);
  kernel_.SetIgnoresSigterm(pid, true);  // the jail's root made it deaf
  absl::StatusOr<MainProcessStatus> stopped = runtime_.StopMain(inst_, absl::Milliseconds(50));
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->stopped);
  EXPECT_FALSE(stopped->running);
  EXPECT_EQ(stopped->exit_signal, 9);
  const std::vector<std::string> calls = kernel_.calls();
  EXPECT_THAT(calls, Contains(StrCat("kill(", pid, ", 15)")));
  EXPECT_THAT(calls, Contains(StrCat("kill(", pid, ", 9)")));
  absl::SleepFor(absl::Milliseconds(100));
  absl::StatusOr<MainProcessStatus> again = runtime_.MainStatus(inst_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->starts, 1);  // a stop is not a failure to restart from
}

TEST_F(FreeBsdMainTest, ItHoldsAJailWithoutPersistUntilRemoved) {
  ASSERT_TRUE(StartMain().ok());
  ASSERT_TRUE(runtime_.ClearPersist(inst_).ok());
  std::optional<FakePrison> prison = kernel_.PrisonByJid(static_cast<int>(inst_.ref.jid));
  ASSERT_TRUE(prison.has_value());
  EXPECT_TRUE(prison->persist);  // between restarts the jail must not vanish
  EXPECT_THAT(kernel_.calls(), Not(Contains(::testing::HasSubstr("nopersist"))));
  ASSERT_TRUE(runtime_.Remove(inst_).ok());
  EXPECT_EQ(runtime_.MainStatus(inst_).status().code(), absl::StatusCode::kFailedPrecondition);
}

// exec -t / console: the command gets a real pseudo-terminal (the product's
// OpenPty; the fake runs the "command" as a handler on its slave), sized
// as asked, and the caller the master.
TEST_F(FreeBsdMainTest, ExecWithATerminalGivesThePtyAndItsSize) {
  bool was_tty = false;
  struct winsize seen = {};
  kernel_.SetCommandHandler([&](const FakeCommand& c) {
    was_tty = c.tty && isatty(c.stdout_fd) == 1 && c.stdin_fd == c.stdout_fd;
    (void)ioctl(c.stdout_fd, TIOCGWINSZ, &seen);
    const char msg[] = "hello\n";
    return write(c.stdout_fd, msg, sizeof msg - 1) == static_cast<ssize_t>(sizeof msg - 1) ? 0 : 1;
  });
  ExecRequest req;
  req.argv = {"/bin/sh", "-c", "tty; stty size"};
  req.tty = true;
  req.tty_rows = 33;
  req.tty_cols = 101;
  std::string out;
  req.on_tty = [&out](int master) {
    char buf[256];
    ssize_t n;
    // The slave is closed: the output is buffered, then EIO.
    while ((n = read(master, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    close(master);
  };
  absl::StatusOr<ExecResult> r = runtime_.Exec(inst_, ExecWhere::kJail, req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_TRUE(was_tty);
  EXPECT_EQ(seen.ws_row, 33);
  EXPECT_EQ(seen.ws_col, 101);
  EXPECT_EQ(out, "hello\r\n");  // through the line discipline
  // On the host, no terminal: refused with the reason.
  req.on_tty = nullptr;
  EXPECT_EQ(runtime_.Exec(inst_, ExecWhere::kHost, req).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace jailwarden::platform
