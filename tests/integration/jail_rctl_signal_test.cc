// Root-only (issue 13): where an rctl signal action on a sampled,
// jail-wide resource goes on Linux (platform/linux/signal_target.h,
// docs/linux-resources.md "Signal actions"). FreeBSD signals the process
// whose charge crossed the limit; a sampled sum has none, so a memory
// resource's signal goes to the jail's biggest consumer of that memory and
// any other resource's to every process of the jail but its init. Never
// the init: the jail goes on running.

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "helpers/jail_env.h"
#include "helpers/serve.h"
#include "nlohmann/json.hpp"

namespace jailwarden::testing {
namespace {

using ::testing::HasSubstr;

class JailRctlSignalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    ASSERT_TRUE(PathExists(kJailwarden)) << kJailwarden;
    ASSERT_FALSE(BusyboxBase().empty());
    top_ = MakeTempDir("jw-it-rctlsig");
    config_ = top_ + "/policy.yaml";
    WriteText(config_,
              absl::StrCat("server:\n  api_socket: \"\"\n  state_dir: ", top_, "/state\n",
                           "  token_file: ", top_, "/token\njails:\n",
                           "  mem:\n    base: ", BusyboxBase(),
                           "\n    persist: true\n    stop.timeout: 2s\n",
                           "    limits:\n      memoryuse: sigkill=48M\n",
                           "  procs:\n    base: ", BusyboxBase(),
                           "\n    persist: true\n    stop.timeout: 2s\n",
                           "    limits:\n      maxproc: [sigkill=4, devctl=4]\n"));
    serve_ = std::make_unique<Serve>(top_, config_);
    ASSERT_TRUE(serve_->Start("127.0.0.1:0", /*stop_jails_on_exit=*/true)) << serve_->log();
  }

  void TearDown() override {
    serve_.reset();
    if (!top_.empty()) RemoveTree(top_);
  }

  ShellResult Cli(const std::string& verb, const std::string& args) {
    return HostShell(absl::StrCat("timeout 60 ", kJailwarden, " ", verb, " --config ",
                                  Quote(config_), " --server http://127.0.0.1:",
                                  serve_->port(), " ", args, " 2>&1"));
  }

  // The jail's state and init pid as GET /v1/jails/NAME reports them.
  std::pair<std::string, int64_t> StateOf(const std::string& jail) {
    const nlohmann::json j = nlohmann::json::parse(
        Cli("get", absl::StrCat(jail, " --json")).out, nullptr, false);
    if (!j.is_object()) return {"", -1};
    return {j.value("state", ""), j.value("init_pid", int64_t{-1})};
  }

  bool WaitRunning(const std::string& jail) {
    for (int i = 0; i < 300; ++i) {
      if (StateOf(jail).first == "running") return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  // How many `sleep SECONDS` run on the host (a number only this test
  // uses; counted from the host, so counting adds no process to a jail).
  static int Sleepers(int seconds) {
    ShellResult r = HostShell(absl::StrCat("pgrep -cx -f 'sleep ", seconds, "'"));
    return atoi(r.out.c_str());
  }

  std::string top_, config_;
  std::unique_ptr<Serve> serve_;
};

TEST_F(JailRctlSignalTest, MemorySigkillGoesToTheBiggestConsumerOnly) {
  ASSERT_TRUE(WaitRunning("mem")) << serve_->log();
  const int64_t init = StateOf("mem").second;
  ASSERT_EQ(Cli("exec", "mem -- /bin/sh -c 'sleep 3011 >/dev/null 2>&1 &'").exit_code, 0);
  ASSERT_EQ(Sleepers(3011), 1);
  // dd's 64 MiB buffer, filled again and again: over the 48M memoryuse
  // until the sampler's next tick picks it as the biggest consumer.
  const absl::Time t0 = absl::Now();
  ShellResult hog = Cli("exec", "mem -- dd if=/dev/zero of=/dev/null bs=64M count=100000");
  EXPECT_NE(hog.exit_code, 0) << hog.out;
  EXPECT_LT(absl::Now() - t0, absl::Seconds(30)) << "not killed by the sampled sigkill";
  // The sleeper (small) and the jail's init are untouched.
  EXPECT_EQ(Sleepers(3011), 1);
  EXPECT_EQ(StateOf("mem"), std::make_pair(std::string("running"), init));
  EXPECT_EQ(kill(static_cast<pid_t>(init), 0), 0);
}

TEST_F(JailRctlSignalTest, MaxprocSigkillGoesToEveryProcessButInit) {
  ASSERT_TRUE(WaitRunning("procs")) << serve_->log();
  const int64_t init = StateOf("procs").second;
  // Five sleepers and init: over maxproc 4. Each process but init gets
  // SIGKILL at the next sampled tick (the shell starting them too, maybe
  // before it is done); the jail goes on running.
  (void)Cli("exec", "procs -- /bin/sh -c 'for i in 1 2 3 4 5; do sleep 3012 >/dev/null "
                    "2>&1 & done'");
  int left = -1;
  for (int i = 0; i < 100 && left != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(200));
    left = Sleepers(3012);
  }
  EXPECT_EQ(left, 0);
  // It was the rule: its devctl twin's match is in the event log.
  EXPECT_THAT(Cli("events", "--since 0 --jail procs --type limit").out, HasSubstr("maxproc"));
  EXPECT_EQ(StateOf("procs"), std::make_pair(std::string("running"), init));
  EXPECT_EQ(kill(static_cast<pid_t>(init), 0), 0);
}

}  // namespace
}  // namespace jailwarden::testing
