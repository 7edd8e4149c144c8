// Issue 17: health checks of jails an API create made from a policy
// template (the template's `healthcheck:`, also after a daemon restart), and
// `apply -n` telling a change that touches only a healthcheck. Over the
// scripted platform: the checks run through its exec path and are logged.

#include <unistd.h>

#include <cstdlib>

#include "fakes/fake_jail_runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/service/daemon.h"
#include "service/fake_host_backend.h"
#include "service/scripted_daemon_fixture.h"

namespace jailwarden::service {
namespace {

using ::testing::HasSubstr;
using testing_support::FakeHostBackend;

constexpr char kPolicy[] = R"(server:
  state_dir: STATE
templates:
  svc:
    persist: true
    healthcheck:
      command: check-svc
      interval: 1s
      timeout: 1s
jails:
  web:
    path: /srv/web
    persist: true
    healthcheck:
      command: check-web
      interval: 1s
      timeout: 1s
)";

class HealthTemplateTest : public testing_support::ScriptedDaemonTest {
 protected:
  void SetUp() override {
    MakeStateDir("jw-health-tpl");
    if (HasFatalFailure()) return;
    text_ = kPolicy;
    text_.replace(text_.find("STATE"), 5, state_);
  }
  void Start() { StartDaemon(text_, absl::Milliseconds(50)); }
  // Waits (at most 10 s) until `jail`'s health is `state`.
  std::string WaitForHealth(const std::string& jail, const std::string& state) {
    std::string now;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      absl::StatusOr<api::JailInfo> info = daemon_->GetJail(jail);
      if (info.ok()) now = info->health;
      if (now == state) break;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return now;
  }
  int Runs(const std::string& line) {
    int n = 0;
    for (const std::string& l : host_->runtime_ptr_->Log()) n += l == line ? 1 : 0;
    return n;
  }

  std::string text_;
};

TEST_F(HealthTemplateTest, AJailCreatedFromATemplateGetsTheTemplatesCheck) {
  Start();
  api::CreateJailRequest req;
  req.spec.name = "t1";
  req.template_name = "svc";
  req.start = true;
  ASSERT_TRUE(daemon_->CreateJail(req).ok());
  api::CreateJailRequest plain;
  plain.spec.name = "p1";
  plain.spec.path = "/srv/p1";
  plain.spec.persist = true;
  plain.start = true;
  ASSERT_TRUE(daemon_->CreateJail(plain).ok());
  EXPECT_EQ(WaitForHealth("t1", "healthy"), "healthy");
  EXPECT_GE(Runs("jail t1: check-svc"), 1);  // in the jail, through the exec path
  absl::StatusOr<api::JailInfo> info = daemon_->GetJail("t1");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->template_name, "svc");
  // A jail created without a template has no check.
  absl::StatusOr<api::JailInfo> p1 = daemon_->GetJail("p1");
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->health, "");
  EXPECT_EQ(daemon_->Health().count("p1"), 0u);

  // Failing checks make it unhealthy, as a policy jail.
  host_->runtime_ptr_->FailCommandContaining("check-svc", 1);
  EXPECT_EQ(WaitForHealth("t1", "unhealthy"), "unhealthy");
  host_->runtime_ptr_->ClearFailures();

  // The template is recorded with the jail (config.json): the next daemon
  // (whose scripted platform starts empty, so the jail is started again)
  // checks it too.
  daemon_.reset();
  Start();
  ASSERT_TRUE(daemon_->StartJail("t1").ok());
  EXPECT_EQ(WaitForHealth("t1", "healthy"), "healthy");
  EXPECT_GE(Runs("jail t1: check-svc"), 1);
}

TEST_F(HealthTemplateTest, ApplyDryRunTellsAHealthcheckOnlyChange) {
  Start();
  std::string next = text_;
  next.replace(next.find("check-web"), 9, "check-web2");
  next.replace(next.find("check-svc"), 9, "check-svc2");
  absl::StatusOr<api::ApplyResult> r = daemon_->Apply(next, "test.yaml", /*dry_run=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->changed);
  EXPECT_THAT(r->diff, HasSubstr("healthcheck jail web\n"));
  EXPECT_THAT(r->diff, HasSubstr("healthcheck template svc\n"));
  EXPECT_THAT(r->diff, ::testing::Not(HasSubstr("restart")));
  // Applied, the new check runs without a restart of the jail.
  const int creates_before = Runs("create web");
  r = daemon_->Apply(next, "test.yaml", false);
  ASSERT_TRUE(r.ok()) << r.status();
  bool ran = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!ran && absl::Now() < deadline) {
    ran = Runs("jail web: check-web2") > 0;
    if (!ran) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(ran);
  EXPECT_EQ(Runs("create web"), creates_before);
}

}  // namespace
}  // namespace jailwarden::service
