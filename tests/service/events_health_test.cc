// The daemon's event log over a scripted platform: lifecycle events in
// order with truthful answers (start of a running jail changes nothing),
// policy reloads, ids that survive a restart, and health checks that run
// through the exec path, change state and restart a failing jail.

#include <unistd.h>

#include <cstdlib>
#include <set>

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

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_support::FakeHostBackend;

constexpr char kPolicy[] = R"(server:
  state_dir: STATE
jails:
  db:
    path: /srv/db
    persist: true
  web:
    path: /srv/web
    persist: true
    depend: db
HEALTH)";

constexpr char kFailingCheck[] = R"(    healthcheck:
      command: check-web
      interval: 1s
      timeout: 1s
      retries: 2
      on_failure: restart
)";

std::string PolicyText(const std::string& state, std::string_view health = "") {
  std::string text = kPolicy;
  text.replace(text.find("STATE"), 5, state);
  text.replace(text.find("HEALTH"), 6, std::string(health));
  return text;
}

// "type jail by" per event, for the events after `after`.
std::vector<std::string> Lines(Daemon& d, uint64_t after = 0) {
  std::vector<std::string> out;
  for (const engine::EventStream::Event& e : d.Events().Read(after)) {
    std::string line = StrCat(e.type, " ", e.jail);
    for (const engine::EventField& f : e.details) {
      if (f.key == "by") StrAppend(&line, " ", std::get<std::string>(f.value));
    }
    out.push_back(line);
  }
  return out;
}

class EventsHealthTest : public testing_support::ScriptedDaemonTest {
 protected:
  void SetUp() override { MakeStateDir("jw-events-svc"); }
  void Start(std::string_view health = "") {
    StartDaemon(PolicyText(state_, health), absl::Milliseconds(50));
  }
};

TEST_F(EventsHealthTest, LifecycleEventsInOrderAndTruthfulAnswers) {
  Start();
  EXPECT_THAT(Lines(*daemon_), ElementsAre("created db startup", "started db startup",
                                           "created web startup", "started web startup"));
  uint64_t mark = daemon_->Events().last_seq();

  absl::StatusOr<api::JailChange> c = daemon_->StartJail("web");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->changed);
  EXPECT_EQ(c->state, "running");
  EXPECT_TRUE(Lines(*daemon_, mark).empty());  // nothing happened, nothing said

  c = daemon_->StopJail("web");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->changed);
  EXPECT_EQ(c->previous, "running");
  c = daemon_->StopJail("web");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->changed);
  EXPECT_EQ(c->state, "stopped");
  EXPECT_THAT(Lines(*daemon_, mark), ElementsAre("stopped web api"));
  mark = daemon_->Events().last_seq();

  // A restart of a stopped jail is a start, and says so.
  c = daemon_->RestartJail("web");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->previous, "stopped");
  c = daemon_->RestartJail("web");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->previous, "running");
  EXPECT_THAT(Lines(*daemon_, mark), ElementsAre("started web api", "restarted web api"));
  mark = daemon_->Events().last_seq();

  // Stopping db stops its dependent too: both are told.
  ASSERT_TRUE(daemon_->StopJail("db").ok());
  EXPECT_THAT(Lines(*daemon_, mark), ElementsAre("stopped db api", "stopped web api"));
  mark = daemon_->Events().last_seq();

  api::CreateJailRequest req;
  req.spec.name = "tmp1";
  req.spec.path = "/srv/tmp1";
  req.spec.persist = true;
  req.start = true;
  ASSERT_TRUE(daemon_->CreateJail(req).ok());
  c = daemon_->DestroyJail("tmp1");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, "destroyed");
  EXPECT_EQ(c->previous, "running");
  EXPECT_THAT(Lines(*daemon_, mark), ElementsAre("created tmp1 api", "started tmp1 api",
                                                 "stopped tmp1 api", "destroyed tmp1 api"));
  // Ids ascend by one, times never go back.
  const std::vector<engine::EventStream::Event> all = daemon_->Events().Read(0);
  for (std::size_t i = 1; i < all.size(); ++i) {
    EXPECT_EQ(all[i].seq, all[i - 1].seq + 1);
    EXPECT_LE(all[i - 1].time, all[i].time);
  }
}

TEST_F(EventsHealthTest, AJailThatEndsByItselfIsStopped) {
  Start();
  const uint64_t mark = daemon_->Events().last_seq();
  host_->runtime_ptr_->EndJail("web");
  std::vector<std::string> lines;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (lines.empty() && absl::Now() < deadline) {
    lines = Lines(*daemon_, mark);
    if (lines.empty()) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_THAT(lines, ElementsAre("stopped web itself"));
}

TEST_F(EventsHealthTest, ReloadIsAnEventAfterTheChangesItMade) {
  Start();
  const uint64_t mark = daemon_->Events().last_seq();
  std::string next = PolicyText(state_);
  next += "  cache:\n    path: /srv/cache\n    persist: true\n";
  absl::StatusOr<api::ApplyResult> r = daemon_->Apply(next, "test.yaml", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Lines(*daemon_, mark),
              ElementsAre("created cache reload", "started cache reload", "policy_reloaded "));
}

TEST_F(EventsHealthTest, IdsContinueAfterADaemonRestart) {
  Start();
  const uint64_t last = daemon_->Events().last_seq();
  ASSERT_GT(last, 0u);
  daemon_.reset();
  Start();
  const std::vector<engine::EventStream::Event> now = daemon_->Events().Read(0);
  ASSERT_FALSE(now.empty());
  EXPECT_GT(now.front().seq, last);
  uint64_t gap = 0;
  (void)daemon_->Events().Read(last, &gap);
  EXPECT_GT(gap, 0u);  // a reader resuming at `last` is told what it cannot get
}

TEST_F(EventsHealthTest, AFailingHealthCheckRestartsTheJail) {
  Start(kFailingCheck);
  host_->runtime_ptr_->FailCommandContaining("check-web", 3);
  // starting -> unhealthy after 2 failures (about 2 s), then the restart.
  bool restarted = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!restarted && absl::Now() < deadline) {
    for (const std::string& l : Lines(*daemon_)) {
      if (l == "restarted web healthcheck") restarted = true;
    }
    if (!restarted) absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(restarted);
  // The check ran in the jail, through the exec path.
  int checks = 0;
  for (const std::string& l : host_->runtime_ptr_->Log()) {
    if (l == "jail web: check-web") ++checks;
  }
  EXPECT_GE(checks, 2);
  std::vector<engine::EventStream::Event> health;
  for (const auto& e : daemon_->Events().Read(0)) {
    if (e.type == engine::kEventHealthChanged) health.push_back(e);
  }
  ASSERT_FALSE(health.empty());
  EXPECT_EQ(health[0].jail, "web");
  EXPECT_EQ(std::get<std::string>(health[0].details[0].value), "starting");
  EXPECT_EQ(std::get<std::string>(health[0].details[1].value), "unhealthy");
  // After the restart the check passes: starting -> healthy, shown in the
  // jail's info.
  host_->runtime_ptr_->ClearFailures();
  std::string state;
  const absl::Time until = absl::Now() + absl::Seconds(20);
  while (state != "healthy" && absl::Now() < until) {
    absl::StatusOr<api::JailInfo> info = daemon_->GetJail("web");
    ASSERT_TRUE(info.ok());
    state = info->health;
    if (state != "healthy") absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(state, "healthy");
  EXPECT_GE(daemon_->Health().at("web").actions, 1);
  absl::StatusOr<api::JailInfo> db = daemon_->GetJail("db");
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(db->health, "");  // no check, no health
}

TEST(HealthCheckPolicyTest, BadValuesAreRefusedWithTheirPlace) {
  const std::string text = R"(jails:
  web:
    path: /srv/web
    healthcheck:
      command: ""
      interval: 0s
      retries: 0
      on_failure: reboot
      bogus: 1
)";
  absl::StatusOr<policy::Policy> p = policy::LoadPolicyText(text, "p.yaml");
  ASSERT_FALSE(p.ok());
  const std::string m(p.status().message());
  EXPECT_THAT(m, HasSubstr("p.yaml:5:16: 'command' in 'healthcheck' in jail 'web': empty command"));
  EXPECT_THAT(m, HasSubstr("p.yaml:6:17: 'interval' in 'healthcheck' in jail 'web': expected a duration"));
  EXPECT_THAT(m, HasSubstr("p.yaml:7:16: 'retries' in 'healthcheck' in jail 'web'"));
  EXPECT_THAT(m, HasSubstr("p.yaml:8:19: 'on_failure' in 'healthcheck' in jail 'web': expected "
                           "restart, stop or none, got 'reboot'"));
  EXPECT_THAT(m, HasSubstr("p.yaml:9:7:"));
}

TEST(HealthCheckPolicyTest, TemplatesInheritAndJailsOverride) {
  const std::string text = R"(templates:
  svc:
    persist: true
    healthcheck:
      command: [/bin/true]
      interval: 10s
      on_failure: stop
jails:
  web:
    template: svc
    path: /srv/web
    healthcheck:
      retries: 5
      timeout: 20s
)";
  absl::StatusOr<policy::Policy> p = policy::LoadPolicyText(text, "p.yaml");
  ASSERT_FALSE(p.ok());  // timeout longer than the interval
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("p.yaml:14:16: 'timeout' in"));
  std::string good = text;
  good.replace(good.find("20s"), 3, "5s");
  p = policy::LoadPolicyText(good, "p.yaml");
  ASSERT_TRUE(p.ok()) << p.status();
  const policy::JailPolicy* web = p->FindJail("web");
  ASSERT_NE(web, nullptr);
  ASSERT_TRUE(web->healthcheck.has_value());
  EXPECT_THAT(web->healthcheck->argv, ElementsAre("/bin/true"));
  EXPECT_EQ(web->healthcheck->interval, absl::Seconds(10));
  EXPECT_EQ(web->healthcheck->timeout, absl::Seconds(5));
  EXPECT_EQ(web->healthcheck->retries, 5);
  EXPECT_EQ(web->healthcheck->on_failure, policy::HealthAction::kStop);
}

}  // namespace
}  // namespace jailwarden::service
