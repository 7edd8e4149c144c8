// The policy of record (include/jailwarden/service/policy_record.h) over
// the scripted platform: `apply -f OTHER` survives a restart; SIGHUP and
// an apply of the configuration file's text return to the configuration
// file; a record that no longer loads stops start-up with the way out.
// No root.

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/service/daemon.h"
#include "jailwarden/service/policy_record.h"
#include "service/fake_host_backend.h"

namespace jailwarden::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing_support::FakeHostBackend;
using testing_support::StartScriptedDaemon;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class PolicyRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/jw-record-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    state_ = dir_ + "/state";
    config_ = dir_ + "/jailwarden.yaml";
    std::ofstream(config_) << Policy(false);
  }
  void TearDown() override {
    daemon_.reset();
    (void)std::system(StrCat("rm -rf '", dir_, "'").c_str());
  }
  // db always; cache with `cache`. stop_removed_jails: a restart with the
  // configuration file's policy would stop and forget cache.
  std::string Policy(bool cache) const {
    return StrCat("server:\n  state_dir: ", state_,
                  "\n  sample_interval: 100ms\n  stop_removed_jails: true\njails:\n"
                  "  db:\n    path: /srv/db\n    persist: true\n",
                  cache ? "  cache:\n    path: /srv/cache\n    persist: true\n" : "",
                  "rules:\n  - jail:db:nthr:deny=50\n");
  }
  // As serve does: the configuration file, then Daemon::Start.
  absl::Status Start() {
    daemon_.reset();
    absl::StatusOr<policy::Policy> p = policy::LoadPolicyFile(config_);
    if (!p.ok()) return p.status();
    absl::StatusOr<std::unique_ptr<Daemon>> d = StartScriptedDaemon(*std::move(p), config_);
    if (!d.ok()) return d.status();
    daemon_ = *std::move(d);
    return absl::OkStatus();
  }
  std::vector<std::string> Jails() {
    std::vector<std::string> out;
    for (const api::JailInfo& j : daemon_->ListJails()) out.push_back(j.name);
    std::sort(out.begin(), out.end());
    return out;
  }
  bool HasRecord() const { return access(PolicyRecordPath(state_).c_str(), F_OK) == 0; }

  std::string dir_, state_, config_;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(PolicyRecordTest, ApplyOfAnotherFileSurvivesARestart) {
  ASSERT_TRUE(Start().ok());
  EXPECT_THAT(Jails(), ElementsAre("db"));
  // A dry run records nothing.
  ASSERT_TRUE(daemon_->Apply(Policy(true), "/elsewhere/other.yaml", true).ok());
  EXPECT_FALSE(HasRecord());

  absl::StatusOr<api::ApplyResult> r = daemon_->Apply(Policy(true), "/elsewhere/other.yaml", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->failures.empty());
  EXPECT_THAT(Jails(), ElementsAre("cache", "db"));
  ASSERT_TRUE(HasRecord());
  EXPECT_THAT(Slurp(PolicyRecordPath(state_)),
              HasSubstr("from `jailwarden apply -f /elsewhere/other.yaml`"));

  // Restarted with the same --config: the applied policy, not the file's.
  ASSERT_TRUE(Start().ok());
  EXPECT_THAT(Jails(), ElementsAre("cache", "db"));
  // Applying it again changes nothing.
  r = daemon_->Apply(Policy(true), "other.yaml", true);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->changed) << r->diff;
}

TEST_F(PolicyRecordTest, ApplyOfTheConfigurationFileDropsTheRecord) {
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(daemon_->Apply(Policy(true), "other.yaml", false).ok());
  ASSERT_TRUE(HasRecord());
  // The configuration file's text, whatever the name it is sent under.
  absl::StatusOr<api::ApplyResult> r = daemon_->Apply(Slurp(config_), "./jailwarden.yaml", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(HasRecord());
  EXPECT_THAT(Jails(), ElementsAre("db"));
  ASSERT_TRUE(Start().ok());
  EXPECT_THAT(Jails(), ElementsAre("db"));
}

TEST_F(PolicyRecordTest, SighupReturnsToTheConfigurationFile) {
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(daemon_->Apply(Policy(true), "other.yaml", false).ok());
  ASSERT_TRUE(Start().ok());
  EXPECT_THAT(Jails(), ElementsAre("cache", "db"));
  absl::StatusOr<api::ApplyResult> r = daemon_->ReloadFromFile();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(HasRecord());
  EXPECT_THAT(Jails(), ElementsAre("db"));
  ASSERT_TRUE(Start().ok());
  EXPECT_THAT(Jails(), ElementsAre("db"));
}

TEST_F(PolicyRecordTest, ARefusedPolicyLeavesTheRecordAlone) {
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(daemon_->Apply(Policy(true), "other.yaml", false).ok());
  const std::string before = Slurp(PolicyRecordPath(state_));
  EXPECT_FALSE(daemon_->Apply("jails: [", "bad.yaml", false).ok());
  EXPECT_EQ(Slurp(PolicyRecordPath(state_)), before);
}

TEST_F(PolicyRecordTest, ARecordThatNoLongerLoadsStopsStartUpWithTheWayOut) {
  ASSERT_TRUE(Start().ok());
  ASSERT_TRUE(daemon_->Apply(Policy(true), "other.yaml", false).ok());
  daemon_.reset();
  std::ofstream(PolicyRecordPath(state_), std::ios::app) << "jails: [\n";
  absl::Status st = Start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.message()), HasSubstr(PolicyRecordPath(state_)));
  EXPECT_THAT(std::string(st.message()), HasSubstr("remove it to start with " + config_));
}

}  // namespace
}  // namespace jailwarden::service
