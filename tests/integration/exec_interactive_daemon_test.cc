// Root-only (issue 17): interactive exec the way an admin runs it — the
// real `jailwarden` CLI against a real `jailwarden serve`, over the admin
// unix socket and its HTTP Upgrade, on a real jail. exec_interactive_tty_test
// drives the same session code over a stand-in socket; this one proves the
// whole path: `echo abc | jailwarden exec -i`, the exec error and its 127,
// `exec -t` on a tmux terminal (the jail's /dev/pts, the outer size, a
// resize) and `console` to a prompt and out. tmux runs on its own server
// socket in the test's directory, killed by that socket only.

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/jail_env.h"
#include "helpers/serve.h"

namespace jailwarden::testing {
namespace {

using ::testing::HasSubstr;

class ExecDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    if (system("command -v tmux >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "tmux is not installed (scripts/install-deps.sh installs it)";
    }
    ASSERT_TRUE(PathExists(kJailwarden)) << kJailwarden;
    ASSERT_FALSE(BusyboxBase().empty());
    top_ = MakeTempDir("jw-it-execd");
    config_ = top_ + "/policy.yaml";
    WriteText(config_,
              absl::StrCat("server:\n  listen: 127.0.0.1:9814\n  api_socket: ", top_,
                           "/run/api.sock\n  state_dir: ", top_,
                           "/state\njails:\n  xd:\n    base: ", BusyboxBase(),
                           "\n    persist: true\n    ip4: disable\n    stop.timeout: 2s\n"
                           "    exec.start: \"mkdir -p /root\"\n"));
    serve_ = std::make_unique<Serve>(top_, config_);
    ASSERT_TRUE(serve_->Start("127.0.0.1:0", /*stop_jails_on_exit=*/true)) << serve_->log();
    // Ready when the CLI, over the socket, sees the jail running.
    bool running = false;
    for (int i = 0; i < 200 && !running; ++i) {
      running = Cli("list -H").out.find("running") != std::string::npos;
      if (!running) absl::SleepFor(absl::Milliseconds(100));
    }
    ASSERT_TRUE(running) << Cli("list").out << serve_->log();
    tmux_ = "tmux -S " + top_ + "/tmux.sock ";
  }
  void TearDown() override {
    if (!tmux_.empty()) (void)!system((tmux_ + "kill-server 2>/dev/null").c_str());
    serve_.reset();  // SIGTERM: the jail is stopped with it
    if (!top_.empty()) RemoveTree(top_);
  }

  // The CLI with only the policy: no address, no token (the admin socket).
  std::string CliCommand() const {
    return absl::StrCat("env -u JAILWARDEN_SERVER -u JAILWARDEN_TOKEN ", kJailwarden,
                        " --config ", Quote(config_));
  }
  ShellResult Cli(const std::string& args) { return HostShell(CliCommand() + " " + args); }

  // Polls the tmux pane until it shows `want` (at most 20 s).
  std::string WaitPane(const std::string& want) {
    std::string pane;
    for (int i = 0; i < 400; ++i) {
      pane = HostShell(tmux_ + "capture-pane -p -t xd").out;
      if (pane.find(want) != std::string::npos) return pane;
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << "pane never showed '" << want << "':\n" << pane;
    return pane;
  }

  void StartTmux(const std::string& command) {
    // The pane stays after the CLI ends so its status can be read.
    const std::string cmd = tmux_ + "new-session -d -s xd -x 100 -y 30 \"" + command +
                            "; echo EXIT=\\$?; sleep 60\"";
    ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
  }

  std::string top_, config_, tmux_;
  std::unique_ptr<Serve> serve_;
};

TEST_F(ExecDaemonTest, PipedStdinAndTheExitStatusPassThrough) {
  ShellResult r = HostShell("echo abc | " + CliCommand() + " exec -i xd -- cat");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "abc\n");
  r = HostShell("echo 9 | " + CliCommand() + " exec -i xd -- /bin/sh -c 'read n; exit $n'");
  EXPECT_EQ(r.exit_code, 9);
}

TEST_F(ExecDaemonTest, AProgramThatCannotRunSaysWhyWith127) {
  ShellResult r = Cli("exec xd -- /nonexistent 2>&1");
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_THAT(r.out, HasSubstr("jailwarden exec: /nonexistent: No such file or directory"));
}

TEST_F(ExecDaemonTest, TerminalFromTheJailWithTheOuterSizeAndAResize) {
  StartTmux(CliCommand() +
            " exec -t -i xd -- /bin/sh -c 'tty; stty size; read x; stty size; exit 3'");
  std::string pane = WaitPane("30 100");
  EXPECT_NE(pane.find("/dev/pts/"), std::string::npos) << pane;
  ASSERT_EQ(system((tmux_ + "resize-window -t xd -x 120 -y 40").c_str()), 0);
  // The CLI's SIGWINCH -> a resize frame -> TIOCSWINSZ in the jail; then
  // the line that lets the shell print the size again.
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_EQ(system((tmux_ + "send-keys -t xd go Enter").c_str()), 0);
  pane = WaitPane("EXIT=3");
  EXPECT_NE(pane.find("40 120"), std::string::npos) << pane;
}

TEST_F(ExecDaemonTest, ConsoleReachesAPromptAndExitEndsIt) {
  StartTmux(CliCommand() + " console xd");
  WaitPane("~ #");
  ASSERT_EQ(system((tmux_ + "send-keys -t xd 'echo in-$((6*7))' Enter").c_str()), 0);
  WaitPane("in-42");
  ASSERT_EQ(system((tmux_ + "send-keys -t xd exit Enter").c_str()), 0);
  WaitPane("EXIT=0");
}

}  // namespace
}  // namespace jailwarden::testing
