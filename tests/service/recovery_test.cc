// Start-up recovery over the scripted platform: what a killed daemon left
// in the journal (<state_dir>/journal, written here as the daemon writes
// it) is completed or rolled back before the daemon serves; jails removed
// from the policy while it was down are stopped (server.stop_removed_jails);
// policy drift is an event and a gauge. No root.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/jail/journal.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/service/daemon.h"
#include "service/fake_host_backend.h"
#include "service/scripted_daemon_fixture.h"

namespace jailwarden::service {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing_support::FakeHostBackend;
using testing_support::StartScriptedDaemon;

// db and web (web depends on db) always; cache when CACHE is kept.
constexpr char kPolicy[] = R"(server:
  state_dir: STATE
  sample_interval: 100ms
  stop_removed_jails: STOP
jails:
  db:
    path: /srv/db
    persist: true
  web:
    path: /srv/web
    persist: true
    depend: db
CACHE
rules:
  - jail:db:nthr:deny=50
)";

constexpr char kCache[] = "  cache:\n    path: /srv/cache\n    persist: true\n";

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class RecoveryTest : public testing_support::ScriptedDaemonTest {
 protected:
  void SetUp() override { MakeStateDir("jw-recovery"); }
  std::string Policy(bool cache, bool stop_removed = true, bool db_web = true) {
    std::string text = kPolicy;
    auto sub = [&text](const std::string& key, const std::string& value) {
      const std::size_t p = text.find(key);
      text.replace(p, key.size(), value);
    };
    sub("STATE", state_);
    sub("STOP", stop_removed ? "true" : "false");
    sub("CACHE\n", cache ? kCache : "");
    if (!db_web) {
      text = StrCat("server:\n  state_dir: ", state_,
                    "\n  stop_removed_jails: true\njails:\n", kCache);
    }
    return text;
  }
  absl::Status Start(const std::string& text) {
    daemon_.reset();
    absl::StatusOr<policy::Policy> p = policy::LoadPolicyText(text, "test.yaml");
    if (!p.ok()) return p.status();
    absl::StatusOr<std::unique_ptr<Daemon>> d = StartScriptedDaemon(*std::move(p));
    if (!d.ok()) return d.status();
    daemon_ = *std::move(d);
    return absl::OkStatus();
  }
  // An operation as a daemon killed after `steps` leaves it.
  void LeaveOpen(const std::string& kind, std::map<std::string, std::vector<std::string>> args,
                 const std::vector<std::string>& steps) {
    daemon_.reset();  // nothing is written at exit: as good as kill -9 here
    auto j = jail::Journal::Open(state_ + "/journal");
    ASSERT_TRUE(j.ok()) << j.status();
    absl::StatusOr<uint64_t> id = (*j)->Begin(kind, std::move(args));
    ASSERT_TRUE(id.ok());
    for (const std::string& s : steps) ASSERT_TRUE((*j)->Step(*id, s).ok());
  }
  std::vector<std::string> Jails() {
    std::vector<std::string> out;
    for (const api::JailInfo& j : daemon_->ListJails()) out.push_back(j.name);
    return out;
  }
  std::string Journal() {
    std::string out;
    for (const char* f : {"op-1.json", "op-2.json", "op-3.json"}) {
      if (access(StrCat(state_, "/journal/", f).c_str(), F_OK) == 0) StrAppend(&out, f, " ");
    }
    return out;
  }
  void CreateLim1() {
    api::CreateJailRequest req;
    req.spec.name = "lim1";
    req.spec.path = "/srv/lim1";
    req.limits = {"memoryuse:deny=20M"};
    req.start = true;
    ASSERT_TRUE(daemon_->CreateJail(req).ok());
  }

};

TEST_F(RecoveryTest, OperationsThatAnsweredLeaveNoRecord) {
  ASSERT_TRUE(Start(Policy(true)).ok());
  CreateLim1();
  ASSERT_TRUE(daemon_->RestartJail("lim1").ok());
  ASSERT_TRUE(daemon_->StopJail("lim1").ok());
  ASSERT_TRUE(daemon_->StartJail("lim1").ok());
  ASSERT_TRUE(daemon_->DestroyJail("lim1").ok());
  ASSERT_TRUE(daemon_->Apply(Policy(false), "p.yaml", false).ok());
  EXPECT_EQ(Journal(), "");
  EXPECT_EQ(Slurp(state_ + "/policy-jails.txt"), "db\nweb\n");
}

TEST_F(RecoveryTest, ACreateKilledAtEveryBoundaryBeforeItFinishedIsRolledBack) {
  for (const std::vector<std::string>& steps :
       std::vector<std::vector<std::string>>{{}, {"defined"}, {"defined", "limits"}}) {
    SCOPED_TRACE(steps.size());
    ASSERT_TRUE(Start(Policy(false)).ok());
    CreateLim1();  // everything a create does, then killed before "started"
    LeaveOpen("create", {{"jail", {"lim1"}}, {"start", {"1"}}}, steps);
    ASSERT_TRUE(Start(Policy(false)).ok());
    EXPECT_THAT(Jails(), Not(::testing::Contains("lim1")));
    EXPECT_THAT(Slurp(state_ + "/runtime-rules.json"), Not(HasSubstr("lim1")));
    EXPECT_EQ(Journal(), "");
  }
}

TEST_F(RecoveryTest, ACreateKilledAfterItsLastStepIsKept) {
  ASSERT_TRUE(Start(Policy(false)).ok());
  CreateLim1();
  LeaveOpen("create", {{"jail", {"lim1"}}, {"start", {"1"}}}, {"defined", "limits", "started"});
  ASSERT_TRUE(Start(Policy(false)).ok());
  EXPECT_THAT(Jails(), ::testing::Contains("lim1"));
  EXPECT_THAT(Slurp(state_ + "/runtime-rules.json"), HasSubstr("jail:lim1:memoryuse"));
  EXPECT_EQ(Journal(), "");
}

TEST_F(RecoveryTest, ADestroyKilledAtEveryBoundaryIsCompleted) {
  for (const std::vector<std::string>& steps :
       std::vector<std::vector<std::string>>{{}, {"destroyed"}}) {
    ASSERT_TRUE(Start(Policy(false)).ok());
    CreateLim1();
    LeaveOpen("destroy", {{"jail", {"lim1"}}}, steps);
    ASSERT_TRUE(Start(Policy(false)).ok());
    EXPECT_THAT(Jails(), Not(::testing::Contains("lim1")));
    EXPECT_THAT(Slurp(state_ + "/runtime-rules.json"), Not(HasSubstr("lim1")));
    EXPECT_EQ(Journal(), "");
  }
}

// Issue 14: a removal interrupted by kill -9 during `apply -f` is completed
// at the next start, even when the daemon would keep removed jails.
TEST_F(RecoveryTest, AnApplyKilledBeforeItsRemovalIsCompletedAtTheNextStart) {
  for (const std::vector<std::string>& steps :
       std::vector<std::vector<std::string>>{{}, {"removed:cache"}, {"removed:cache", "rules"}}) {
    ASSERT_TRUE(Start(Policy(true, /*stop_removed=*/false)).ok());
    ASSERT_THAT(Jails(), ::testing::Contains("cache"));
    LeaveOpen("apply", {{"remove", {"cache"}}, {"restart", {}}}, steps);
    ASSERT_TRUE(Start(Policy(false, /*stop_removed=*/false)).ok());
    EXPECT_THAT(Jails(), Not(::testing::Contains("cache")));
    absl::StatusOr<api::ApplyResult> again = daemon_->Apply(Policy(false, false), "p.yaml", true);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->diff, "");
    EXPECT_EQ(Journal(), "");
    (void)std::system(StrCat("rm -rf '", state_, "/jails' '", state_, "/policy-jails.txt'").c_str());
  }
}

TEST_F(RecoveryTest, JailsRemovedWhileDownAreStoppedDependentsFirstAndApiJailsKept) {
  ASSERT_TRUE(Start(Policy(true)).ok());
  CreateLim1();
  daemon_.reset();
  // db and web gone from the file: web depends on db, so web must go first
  // (Destroy refuses a jail another defined one depends on).
  ASSERT_TRUE(Start(Policy(true, true, /*db_web=*/false)).ok());
  EXPECT_THAT(Jails(), ::testing::UnorderedElementsAre("cache", "lim1"));
  EXPECT_EQ(Slurp(state_ + "/policy-jails.txt"), "cache\n");
  EXPECT_EQ(Journal(), "");
}

TEST_F(RecoveryTest, JailsRemovedWhileDownAreKeptWhenThePolicySaysSo) {
  ASSERT_TRUE(Start(Policy(true)).ok());
  daemon_.reset();
  ASSERT_TRUE(Start(Policy(false, /*stop_removed=*/false)).ok());
  EXPECT_THAT(Jails(), ::testing::Contains("cache"));
  // From now on cache is a jail the policy does not manage.
  daemon_.reset();
  ASSERT_TRUE(Start(Policy(false, /*stop_removed=*/true)).ok());
  EXPECT_THAT(Jails(), ::testing::Contains("cache"));
}

TEST_F(RecoveryTest, ARecordOfAnUnknownKindStopsStartUpNamingTheFile) {
  ASSERT_TRUE(Start(Policy(false)).ok());
  LeaveOpen("defrag", {}, {});
  absl::Status s = Start(Policy(false));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr(state_ + "/journal/op-1.json"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"defrag\""));
}

TEST_F(RecoveryTest, RemovingAPolicyRuleIsADriftEventAndApplyRepairsIt) {
  ASSERT_TRUE(Start(Policy(false)).ok());
  ASSERT_TRUE(daemon_->Rctl().RemoveRule("jail:db:nthr").ok());
  std::string lines;
  for (const auto& e : daemon_->Events().Read(0)) {
    if (e.type == engine::kEventLimit) StrAppend(&lines, e.line, "\n");
  }
  EXPECT_EQ(lines,
            "!system=JAILWARDEN subsystem=policy type=drift jail=db rule=jail:db:nthr:deny=50\n");
  absl::StatusOr<api::ApplyResult> dry = daemon_->Apply(Policy(false), "p.yaml", true);
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->diff, "rule +jail:db:nthr:deny=50 (drift: not in force)\n");
  ASSERT_TRUE(daemon_->Apply(Policy(false), "p.yaml", false).ok());
  // Removing a runtime rule is no drift.
  ASSERT_TRUE(daemon_->Rctl().AddRule("jail:web:openfiles:deny=10").ok());
  ASSERT_TRUE(daemon_->Rctl().RemoveRule("jail:web:openfiles").ok());
  std::vector<engine::EventStream::Event> limit_events = daemon_->Events().Read(0);
  std::erase_if(limit_events, [](const auto& e) { return e.type != engine::kEventLimit; });
  EXPECT_EQ(limit_events.size(), 1u);
}

}  // namespace
}  // namespace jailwarden::service
