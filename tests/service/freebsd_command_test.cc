// `jailwarden serve` on FreeBSD with a supervised main process (`command:`,
// issue 17), in process over FakeFreeBsdKernel: started jexec-style as
// exec.jail_user after exec.start, restarted with restart: on-failure after
// the jail's root kills it, the exit recorded and shown by list and the
// event log, and stopped (SIGTERM) when the jail stops.

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "freebsd_web_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::service {
namespace {

using ::testing::Contains;

constexpr char kPolicy[] = R"(server:
  state_dir: STATE
jails:
  web:
    path: /srv/web
    exec.start: /bin/sh /etc/rc
    exec.jail_user: www
    command: [httpd, -f]
    restart: on-failure
    restart_backoff: {initial: 10ms, max: 40ms}
)";

class FreeBsdCommandTest : public FreeBsdWebDaemonTest {
 protected:
  void SetUp() override {
    MakeStateDir("jw-fbcmd");
    if (HasFatalFailure()) return;
    StartDaemon(kPolicy);
  }
};

TEST_F(FreeBsdCommandTest, OnFailureRestartsAfterAKillAndRecordsTheExit) {
  // Started in the jail as its user, after exec.start.
  const std::vector<std::string> calls = kernel_.calls();
  auto start = std::find_if(calls.begin(), calls.end(), [](const std::string& c) {
    return c.find("/etc/rc") != std::string::npos;
  });
  auto spawn = std::find_if(calls.begin(), calls.end(), [](const std::string& c) {
    return StartsWith(c, "spawn-main(") && c.find("user=www) httpd -f") != std::string::npos;
  });
  ASSERT_NE(start, calls.end());
  ASSERT_NE(spawn, calls.end());
  EXPECT_LT(start - calls.begin(), spawn - calls.begin());
  std::optional<platform::MainProcessStatus> m = WebMain();
  ASSERT_TRUE(m.has_value());
  ASSERT_TRUE(m->running);
  const pid_t first = static_cast<pid_t>(m->pid);

  ASSERT_EQ(kernel_.Kill(first, 9), 0);  // the jail's root, kill -9
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    m = WebMain();
    if (m.has_value() && m->running && m->restarts == 1) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->restarts, 1);
  EXPECT_TRUE(m->exited);
  EXPECT_EQ(m->exit_signal, 9);
  EXPECT_NE(m->pid, first);
  // The exit is an event with its signal.
  bool told = false;
  for (int i = 0; i < 500 && !told; ++i) {
    for (const engine::EventStream::Event& e : daemon_->Events().Read(0)) {
      if (e.type != engine::kEventMainExited || e.jail != "web") continue;
      for (const engine::EventField& f : e.details) {
        if (f.key == "signal" && std::get<int64_t>(f.value) == 9) told = true;
      }
    }
    if (!told) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(told);

  // Stopping the jail stops it first: SIGTERM to it, no restart.
  const pid_t now_pid = static_cast<pid_t>(m->pid);
  ASSERT_TRUE(daemon_->StopJail("web").ok());
  EXPECT_THAT(kernel_.calls(), Contains(StrCat("kill(", now_pid, ", 15)")));
  EXPECT_FALSE(kernel_.Process(now_pid).has_value());
  EXPECT_FALSE(kernel_.PrisonByName("web").has_value());
}

TEST_F(FreeBsdCommandTest, BadCommandRestartOrHealthcheckIsRefusedWithItsPlaceAndNothingApplied) {
  std::optional<platform::MainProcessStatus> m = WebMain();
  ASSERT_TRUE(m.has_value() && m->running);
  const int64_t pid = m->pid;
  std::string text = kPolicy;
  text.replace(text.find("STATE"), 5, state_);
  text.replace(text.find("command: [httpd, -f]"), 20, "command: []");
  text.replace(text.find("restart: on-failure"), 19, "restart: sometimes");
  text += "    healthcheck: {command: true, retries: 0, on_failure: reboot}\n";
  kernel_.ClearCalls();
  absl::StatusOr<api::ApplyResult> r = daemon_->Apply(text, "new.yaml", false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string msg(r.status().message());
  EXPECT_THAT(msg, ::testing::HasSubstr("new.yaml:8:14: 'command' in jail 'web'"));
  EXPECT_THAT(msg, ::testing::HasSubstr("new.yaml:9:14: 'restart' in jail 'web'"));
  EXPECT_THAT(msg, ::testing::HasSubstr("new.yaml:11:43: 'retries' in 'healthcheck'"));
  EXPECT_THAT(msg, ::testing::HasSubstr("new.yaml:11:58: 'on_failure' in 'healthcheck'"));
  // Nothing applied: no kernel call, the same main process, no restart.
  EXPECT_TRUE(kernel_.calls().empty()) << Join(kernel_.calls(), "\n");
  m = WebMain();
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->running);
  EXPECT_EQ(m->pid, pid);
  EXPECT_EQ(m->restarts, 0);
}

}  // namespace
}  // namespace jailwarden::service
