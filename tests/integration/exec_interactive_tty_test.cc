// Interactive exec as a user runs it (issue 17): the client's side
// (cli::RunInteractiveSession, in the exec_client helper) on a real
// terminal from tmux or on pipes from the shell, the daemon's side
// (api::ServeExecSession) in this process on a real jail, joined by a
// unix socket standing in for the upgraded HTTP connection. tmux runs on
// its own server socket (-S in the test's workspace), killed by that
// socket only.

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "helpers/jail_env.h"
#include "jailwarden/api/exec_session.h"

namespace jailwarden::testing {
namespace {

class ExecTtyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    if (system("command -v tmux >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "tmux is not installed";
    }
    signal(SIGPIPE, SIG_IGN);
    ws_ = JailWorkspace::Make("xt");
    ASSERT_FALSE(BusyboxBase().empty());
    before_ = HostSnapshot::Take(ws_.cgroup_parent);
    manager_ = OpenManager(ws_);
    ASSERT_NE(manager_, nullptr);
    platform::JailSpec s;
    s.name = "xt";
    s.path = ws_.CopyRoot("xt");
    s.persist = true;
    s.stop_timeout = absl::Seconds(2);
    ASSERT_TRUE(manager_->Create(s).ok());
    ASSERT_TRUE(manager_->Start("xt").ok());
    ASSERT_EQ(JailShell(*manager_, "xt", "mkdir -p /root").exit_code, 0);
    socket_ = ws_.top + "/exec.sock";
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_.c_str());
    ASSERT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(listen(listen_fd_, 8), 0);
    server_ = std::thread([this] { Serve(); });
    // Its own server socket in the workspace: removed with it.
    tmux_ = "tmux -S " + ws_.top + "/tmux.sock ";
  }
  void TearDown() override {
    if (!tmux_.empty()) (void)!system((tmux_ + "kill-server 2>/dev/null").c_str());
    if (listen_fd_ >= 0) {
      shutdown(listen_fd_, SHUT_RDWR);
      close(listen_fd_);
    }
    if (server_.joinable()) server_.join();
    for (std::thread& t : sessions_) t.join();
    if (manager_ != nullptr) {
      EXPECT_TRUE(manager_->Destroy("xt").ok());
      EXPECT_TRUE(manager_->StopAll().ok());
      manager_.reset();
      ExpectNothingLeft(before_, ws_.cgroup_parent);
    }
    RemoveTree(ws_.top);
  }

  // Accepts sessions: the request's JSON line, then the frames.
  void Serve() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::string line;
      char c;
      while (read(fd, &c, 1) == 1 && c != '\n' && line.size() < 65536) line += c;
      absl::StatusOr<api::ExecSessionRequest> req = api::ExecSessionRequestFromJson(line);
      if (!req.ok()) {
        ADD_FAILURE() << req.status();
        close(fd);
        continue;
      }
      sessions_.emplace_back([this, fd, r = *std::move(req)]() mutable {
        api::ServeExecSession(fd, std::move(r), [this](const platform::ExecRequest& e) {
          return manager_->Exec("xt", e);
        });
      });
    }
  }

  std::string Client() const { return std::string(JW_EXEC_CLIENT) + " " + socket_; }

  // Polls the tmux pane until it shows `want` (or 20 s).
  std::string WaitPane(const std::string& want) {
    std::string pane;
    for (int i = 0; i < 400; ++i) {
      pane = HostShell(tmux_ + "capture-pane -p -t xt").out;
      if (pane.find(want) != std::string::npos) return pane;
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << "pane never showed '" << want << "':\n" << pane;
    return pane;
  }

  void StartTmux(const std::string& command) {
    // The pane stays after the client ends so its status can be read.
    const std::string cmd = tmux_ + "new-session -d -s xt -x 100 -y 30 \"" + command +
                            "; echo EXIT=\\$?; sleep 60\"";
    ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
  }

  JailWorkspace ws_;
  HostSnapshot before_;
  std::unique_ptr<jail::Manager> manager_;
  std::string socket_, tmux_;
  int listen_fd_ = -1;
  std::thread server_;
  std::vector<std::thread> sessions_;
};

TEST_F(ExecTtyTest, PipedStdinReachesCatAndTheStatusPassesThrough) {
  ShellResult r = HostShell("echo abc | " + Client() + " -i -- cat");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "abc\n");
  r = HostShell("echo 9 | " + Client() + " -i -- /bin/sh -c 'read n; exit $n'");
  EXPECT_EQ(r.exit_code, 9);
}

TEST_F(ExecTtyTest, ExecErrorIsPrintedWith127) {
  ShellResult r = HostShell(Client() + " -- /nonexistent 2>&1");
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_EQ(r.out, "jailwarden exec: /nonexistent: No such file or directory\n");
}

TEST_F(ExecTtyTest, TerminalShowsThePtsTheOuterSizeAndFollowsAResize) {
  StartTmux(Client() + " -t -i -- /bin/sh -c 'tty; stty size; read x; stty size; exit 3'");
  std::string pane = WaitPane("30 100");
  EXPECT_NE(pane.find("/dev/pts/"), std::string::npos) << pane;
  ASSERT_EQ(system((tmux_ + "resize-window -t xt -x 120 -y 40").c_str()), 0);
  // The client's SIGWINCH -> a resize frame -> TIOCSWINSZ on the master.
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_EQ(system((tmux_ + "send-keys -t xt go Enter").c_str()), 0);
  pane = WaitPane("EXIT=3");
  EXPECT_NE(pane.find("40 120"), std::string::npos) << pane;
  // The terminal is back in cooked mode: the shell after the client echoes.
  ASSERT_EQ(system((tmux_ + "kill-session -t xt").c_str()), 0);
}

TEST_F(ExecTtyTest, ConsoleReachesAPromptAndExitEndsItWithZero) {
  StartTmux(Client() + " --console");
  // ash's prompt for root in its home: "~ # " (tmux trims the space).
  WaitPane("~ #");
  ASSERT_EQ(system((tmux_ + "send-keys -t xt 'echo in-$((6*7))' Enter").c_str()), 0);
  WaitPane("in-42");
  ASSERT_EQ(system((tmux_ + "send-keys -t xt exit Enter").c_str()), 0);
  WaitPane("EXIT=0");
}

}  // namespace
}  // namespace jailwarden::testing
