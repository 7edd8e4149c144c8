// Root-only (issue 17): the real daemon. A jail's main process keeps
// running and its output keeps being captured while `jailwarden serve` is
// killed with SIGKILL and started again; `jailwarden logs` then shows every
// line, none lost, and the new daemon reads the main process's record again
// (list, /metrics). A kill -9 of the main process itself is restarted per
// policy and counted by the daemon, and the count survives the daemon's
// own kill -9.

#include <cstdint>
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

class JailLogsDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    JW_REQUIRE_ROOT();
    ASSERT_TRUE(PathExists(kJailwarden)) << kJailwarden;
    ASSERT_FALSE(BusyboxBase().empty());
    top_ = MakeTempDir("jw-it-logsd");
    state_ = top_ + "/state";
    config_ = top_ + "/policy.yaml";
    WriteText(config_,
              absl::StrCat("server:\n  listen: 127.0.0.1:9814\n  api_socket: \"\"\n",
                           "  state_dir: ", state_, "\n", "jails:\n  svc:\n    base: ",
                           BusyboxBase(),
                           "\n    stop.timeout: 2s\n"
                           "    command: \"i=0; while :; do i=$((i+1)); echo tick-$i; "
                           "sleep 0.05; done\"\n"));
  }
  void TearDown() override {
    serve_.reset();
    RemoveTree(top_);
  }

  ShellResult Cli(const std::string& verb, const std::string& args) {
    return HostShell(absl::StrCat(kJailwarden, " ", verb, " --config ", Quote(config_),
                                  " --server http://127.0.0.1:", serve_->port(), " ", args,
                                  " 2>&1"));
  }

  // `jailwarden logs svc` until it shows `text` (at most 20 s).
  std::string LogsUntil(const std::string& text) {
    std::string out;
    for (int i = 0; i < 200; ++i) {
      out = Cli("logs", "svc").out;
      if (out.find(text) != std::string::npos) return out;
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "no '" << text << "' in the logs:\n" << out.substr(0, 2000);
    return out;
  }

  // The main process's record from `get svc --json` (its "main" object).
  nlohmann::json Main() {
    const nlohmann::json j = nlohmann::json::parse(Cli("get", "svc --json").out, nullptr, false);
    return j.is_object() && j.contains("main") ? j["main"] : nlohmann::json();
  }

  // /metrics until it holds `line` (at most 20 s).
  std::string MetricsUntil(const std::string& line) {
    std::string out;
    for (int i = 0; i < 200; ++i) {
      out = HostShell(absl::StrCat("curl -sS -m 3 http://127.0.0.1:", serve_->port(), "/metrics"))
                .out;
      if (out.find(line) != std::string::npos) return out;
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "no '" << line << "' on /metrics";
    return out;
  }

  std::string top_, state_, config_;
  std::unique_ptr<Serve> serve_;
};

TEST_F(JailLogsDaemonTest, NothingIsLostAcrossAKillNineOfTheDaemon) {
  serve_ = std::make_unique<Serve>(top_, config_);
  ASSERT_TRUE(serve_->Start("127.0.0.1:0", /*stop_jails_on_exit=*/false)) << serve_->log();
  LogsUntil("main stdout: tick-5\n");
  EXPECT_THAT(Cli("list", "").out, HasSubstr("running"));
  serve_->Kill();  // the jail, its init and its log writer go on
  absl::SleepFor(absl::Seconds(1));
  serve_ = std::make_unique<Serve>(top_, config_);
  ASSERT_TRUE(serve_->Start("127.0.0.1:0", /*stop_jails_on_exit=*/true)) << serve_->log();
  const std::string out = LogsUntil("main stdout: tick-60\n");
  // Every tick from 1 to 60, once, in order.
  int next = 1;
  size_t pos = 0;
  while (next <= 60) {
    const std::string want = absl::StrCat(" main stdout: tick-", next, "\n");
    const size_t at = out.find(want, pos);
    ASSERT_NE(at, std::string::npos) << "tick-" << next << " missing";
    pos = at + want.size();
    ++next;
  }
  const std::string list = Cli("list", "").out;
  EXPECT_THAT(list, HasSubstr("MAIN"));
  EXPECT_THAT(list, HasSubstr("running"));
  const std::string metrics =
      HostShell(absl::StrCat("curl -sS -m 3 http://127.0.0.1:", serve_->port(), "/metrics")).out;
  EXPECT_THAT(metrics, HasSubstr("jailwarden_jail_main_running{name=\"svc\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("jailwarden_jail_main_restarts_total{name=\"svc\"} 0"));
  // --tail and --stream reach the daemon.
  EXPECT_THAT(Cli("logs", "svc --tail 1 --stream stdout").out, HasSubstr("main stdout: tick-"));
  EXPECT_EQ(Cli("logs", "svc --stream both").exit_code == 0, false);
}

TEST_F(JailLogsDaemonTest, KillNineOfTheMainProcessIsRestartedAndCountedAcrossADaemonKill) {
  serve_ = std::make_unique<Serve>(top_, config_);
  ASSERT_TRUE(serve_->Start("127.0.0.1:0", /*stop_jails_on_exit=*/false)) << serve_->log();
  LogsUntil("main stdout: tick-3\n");
  const nlohmann::json before = Main();
  ASSERT_TRUE(before.is_object() && before.contains("pid")) << before;
  // The pid is the jail's own (its pid namespace): killed from inside, as
  // a jail's root would.
  const int64_t pid = before["pid"].get<int64_t>();
  ASSERT_GT(pid, 1);
  ShellResult kill9 = Cli("exec", absl::StrCat("svc -- kill -9 ", pid));
  ASSERT_EQ(kill9.exit_code, 0) << kill9.out;
  MetricsUntil("jailwarden_jail_main_restarts_total{name=\"svc\"} 1");
  EXPECT_THAT(MetricsUntil("jailwarden_jail_main_last_exit_signal{name=\"svc\"} 9"),
              HasSubstr("jailwarden_jail_main_running{name=\"svc\"} 1"));
  // The count and the last exit are state: a new daemon after a kill -9
  // reads them back.
  serve_->Kill();
  serve_ = std::make_unique<Serve>(top_, config_);
  ASSERT_TRUE(serve_->Start("127.0.0.1:0", /*stop_jails_on_exit=*/true)) << serve_->log();
  MetricsUntil("jailwarden_jail_main_restarts_total{name=\"svc\"} 1");
  const nlohmann::json after = Main();
  EXPECT_NE(after.value("pid", 0), pid) << after;
  EXPECT_GT(after.value("pid", 0), 1) << after;
}

}  // namespace
}  // namespace jailwarden::testing
