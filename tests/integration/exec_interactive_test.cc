// Interactive exec against real jails (issue 17): the daemon's session
// (api::ServeExecSession) over a socketpair, running commands in a jail
// through jail::Manager::Exec on the real Linux runtime: stdin passed
// through, a terminal from the jail's own devpts, resizes, exec errors
// that say why, no host fd in the jail's process, and a jail flooding its
// terminal stalling only its own session.

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_split.h"
#include "cli/exec_interactive.h"
#include "helpers/jail_env.h"
#include "jailwarden/api/exec_frames.h"
#include "jailwarden/api/exec_session.h"

namespace jailwarden::testing {
namespace {

// The client's end of one session, driven step by step.
class TestClient {
 public:
  TestClient(jail::Manager& m, const std::string& jail, api::ExecSessionRequest req,
             api::ExecSessionLimits limits = {}) {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0);
    server_ = std::thread([&m, jail, req = std::move(req), limits, fd = fds_[1]]() mutable {
      api::ServeExecSession(
          fd, std::move(req),
          [&m, jail](const platform::ExecRequest& r) { return m.Exec(jail, r); }, limits);
    });
  }
  ~TestClient() {
    Close();
    if (server_.joinable()) server_.join();
  }
  void Send(const std::string& bytes) {
    EXPECT_EQ(send(fds_[0], bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  void Close() {
    if (fds_[0] >= 0) close(fds_[0]);
    fds_[0] = -1;
  }
  // Reads frames until `done()` or the exit frame or `limit`.
  bool ReadUntil(const std::function<bool()>& done, absl::Duration limit = absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + limit;
    while (!done() && !exit.has_value() && absl::Now() < deadline) {
      struct pollfd p = {fds_[0], POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char buf[65536];
      const ssize_t n = read(fds_[0], buf, sizeof(buf));
      if (n <= 0) break;
      decoder_.Feed(std::string_view(buf, static_cast<size_t>(n)));
      for (;;) {
        auto f = decoder_.Next();
        EXPECT_TRUE(f.ok()) << f.status();
        if (!f.ok() || !f->has_value()) break;
        const api::Frame& fr = **f;
        if (fr.type == api::FrameType::kStdout) out += fr.payload;
        if (fr.type == api::FrameType::kStderr) err += fr.payload;
        if (fr.type == api::FrameType::kError) errors += fr.payload + "\n";
        if (fr.type == api::FrameType::kExit) exit = *api::DecodeExit(fr.payload);
      }
    }
    return done();
  }
  int Finish() {
    ReadUntil([] { return false; });
    return exit.has_value() ? exit->ShellStatus() : -1;
  }

  std::string out, err, errors;
  std::optional<api::ExitFrame> exit;

 private:
  int fds_[2] = {-1, -1};
  std::thread server_;
  api::FrameDecoder decoder_;
};

api::ExecSessionRequest Req(std::vector<std::string> argv, bool tty, bool in) {
  api::ExecSessionRequest r;
  r.exec.argv = std::move(argv);
  r.tty = tty;
  r.stdin = in;
  r.term = "xterm-256color";
  if (tty) {
    r.rows = 33;
    r.cols = 101;
  }
  return r;
}

std::string Stdin(const std::string& s) { return api::EncodeFrame(api::FrameType::kStdin, s); }
std::string StdinEof() { return api::EncodeFrame(api::FrameType::kStdinEof, ""); }

// The fd numbers in `ls -l /proc/self/fd` output (the 9th field of each
// symlink's line; ls's own directory fd is gone by the time it is shown).
std::set<int> FdNumbers(const std::string& ls) {
  std::set<int> fds;
  for (absl::string_view line : absl::StrSplit(ls, '\n')) {
    if (line.size() < 2 || line[0] != 'l' || (line[1] != 'r' && line[1] != '-')) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() >= 9) fds.insert(std::stoi(std::string(f[8])));
  }
  return fds;
}

class ExecInteractiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    signal(SIGPIPE, SIG_IGN);  // as `jailwarden serve` does
    ws_ = JailWorkspace::Make("xi");
    ASSERT_FALSE(BusyboxBase().empty());
    before_ = HostSnapshot::Take(ws_.cgroup_parent);
    manager_ = OpenManager(ws_);
    ASSERT_NE(manager_, nullptr);
    platform::JailSpec s;
    s.name = "xi";
    s.path = ws_.CopyRoot("xi");
    s.persist = true;
    s.stop_timeout = absl::Seconds(2);
    ASSERT_TRUE(manager_->Create(s).ok());
    absl::Status st = manager_->Start("xi");
    ASSERT_TRUE(st.ok()) << st;
  }
  void TearDown() override {
    if (manager_ != nullptr) {
      EXPECT_TRUE(manager_->Destroy("xi").ok());
      EXPECT_TRUE(manager_->StopAll().ok());
      manager_.reset();
      ExpectNothingLeft(before_, ws_.cgroup_parent);
    }
    RemoveTree(ws_.top);
  }

  JailWorkspace ws_;
  HostSnapshot before_;
  std::unique_ptr<jail::Manager> manager_;
};

TEST_F(ExecInteractiveTest, StdinIsPassedThroughAndTheExitStatusToo) {
  {
    TestClient c(*manager_, "xi", Req({"cat"}, false, true));
    c.Send(Stdin("abc\n") + StdinEof());
    EXPECT_EQ(c.Finish(), 0);
    EXPECT_EQ(c.out, "abc\n");
  }
  TestClient c(*manager_, "xi", Req({"/bin/sh", "-c", "read x; echo got-$x; exit 7"}, false, true));
  c.Send(Stdin("line\n"));
  EXPECT_EQ(c.Finish(), 7);
  EXPECT_EQ(c.out, "got-line\n");
}

TEST_F(ExecInteractiveTest, ExecErrorsSayWhyLikeAShell) {
  ASSERT_EQ(JailShell(*manager_, "xi", "echo 'echo no' > /noexec; chmod 644 /noexec").exit_code,
            0);
  for (bool tty : {false, true}) {
    SCOPED_TRACE(tty ? "terminal (setns helper)" : "pipes (jail's pid 1)");
    TestClient missing(*manager_, "xi", Req({"/nonexistent"}, tty, false));
    EXPECT_EQ(missing.Finish(), 127);
    EXPECT_EQ(missing.errors, "/nonexistent: No such file or directory\n");
    TestClient denied(*manager_, "xi", Req({"/noexec"}, tty, false));
    EXPECT_EQ(denied.Finish(), 126);
    EXPECT_EQ(denied.errors, "/noexec: Permission denied\n");
  }
  // The non-interactive path carries the child's errno too.
  platform::ExecRequest r;
  r.argv = {"no-such-command"};
  absl::StatusOr<platform::ExecResult> res = manager_->Exec("xi", r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->exit_code, 127);
  EXPECT_EQ(res->exec_errno, ENOENT);
  r.argv = {"/noexec"};
  res = manager_->Exec("xi", r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->exit_code, 126);
  EXPECT_EQ(res->exec_errno, EACCES);
  // A command that runs and fails on its own has no exec error.
  r.argv = {"/bin/sh", "-c", "exit 127"};
  res = manager_->Exec("xi", r);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->exit_code, 127);
  EXPECT_EQ(res->exec_errno, 0);
}

TEST_F(ExecInteractiveTest, TerminalComesFromTheJailsDevptsAndFollowsResizes) {
  TestClient c(*manager_, "xi",
               Req({"/bin/sh", "-c",
                    "tty; stty size; echo TERM=$TERM; ls /dev/pts; read x; stty size; exit 5"},
                   true, true));
  ASSERT_TRUE(c.ReadUntil([&] { return c.out.find("ptmx") != std::string::npos; }))
      << c.out << c.errors;
  // The jail's own devpts (a new instance): its first terminal, present in
  // the jail's /dev/pts.
  EXPECT_NE(c.out.find("/dev/pts/0\r\n"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("33 101\r\n"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("TERM=xterm-256color\r\n"), std::string::npos) << c.out;
  c.Send(api::EncodeResize(40, 120) + Stdin("go\r"));
  EXPECT_EQ(c.Finish(), 5);
  EXPECT_NE(c.out.find("40 120\r\n"), std::string::npos) << c.out;
  EXPECT_EQ(c.errors, "");
}

TEST_F(ExecInteractiveTest, NoHostFdReachesTheJailsProcess) {
  for (bool tty : {false, true}) {
    SCOPED_TRACE(tty ? "terminal" : "pipes");
    TestClient c(*manager_, "xi",
                 Req({"/bin/sh", "-c", "exec ls -l /proc/self/fd"}, tty, true));
    EXPECT_EQ(c.Finish(), 0);
    // 0-2 and the directory ls itself opened; nothing of the daemon's.
    EXPECT_EQ(FdNumbers(c.out), (std::set<int>{0, 1, 2, 3})) << c.out;
    if (tty) {
      EXPECT_NE(c.out.find(" 0 -> /dev/pts/0"), std::string::npos) << c.out;
    }
  }
}

TEST_F(ExecInteractiveTest, ConsoleIsRootsLoginShellAndExitEndsIt) {
  ASSERT_EQ(JailShell(*manager_, "xi", "mkdir -p /root").exit_code, 0);
  TestClient c(*manager_, "xi", Req(cli::ConsoleArgv(), true, true));
  // A prompt: ash prints "# " for root.
  ASSERT_TRUE(c.ReadUntil([&] { return c.out.find("# ") != std::string::npos; })) << c.out;
  c.Send(Stdin("echo hi-$((40+2)) $HOME $SHELL $(pwd)\r"));
  ASSERT_TRUE(c.ReadUntil([&] { return c.out.find("hi-42 /root /bin/sh /root") != std::string::npos; }))
      << c.out;
  c.Send(Stdin("exit\r"));
  EXPECT_EQ(c.Finish(), 0);
}

// A jail process writing to its terminal as fast as it can, to a client
// that never reads: its session stops reading (bounded buffers), the
// process blocks in its own write, and another session of the same
// daemon still runs at once. Closing the client hangs the terminal up.
TEST_F(ExecInteractiveTest, AFloodingJailStallsOnlyItsOwnSession) {
  api::ExecSessionLimits limits;
  limits.max_pending_bytes = 64 * 1024;
  auto flood = std::make_unique<TestClient>(
      *manager_, "xi",
      Req({"/bin/sh", "-c", "while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done"},
          true, false),
      limits);
  absl::SleepFor(absl::Milliseconds(500));
  const absl::Time t0 = absl::Now();
  {
    TestClient other(*manager_, "xi", Req({"/bin/echo", "ok"}, true, false));
    EXPECT_EQ(other.Finish(), 0);
    EXPECT_EQ(other.out, "ok\r\n");
  }
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));
  // The client goes away: the master is closed, the shell gets SIGHUP
  // and the session ends.
  flood->Close();
  const absl::Time t1 = absl::Now();
  flood.reset();  // joins the session's thread
  EXPECT_LT(absl::Now() - t1, absl::Seconds(10));
  EXPECT_EQ(JailShell(*manager_, "xi", "ps -o args | grep -c '[w]hile :'").out, "0\n")
      << JailShell(*manager_, "xi", "ps -o args").out;
}

}  // namespace
}  // namespace jailwarden::testing
