// service::Daemon over a scripted platform: FakeJailRuntime, FakeUsageReader
// and a recording LimitEnforcer. No root, no HTTP (the api tests and
// tests/daemon cover those).

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/synchronization/mutex.h"
#include "fakes/fake_jail_runtime.h"
#include "fakes/fake_usage_reader.h"
#include "service/fake_host_backend.h"
#include "service/scripted_daemon_fixture.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jailwarden/base/errno.h"
#include "jailwarden/base/files.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/policy/policy.h"
#include "jailwarden/rctl/kernel_form.h"
#include "jailwarden/service/daemon.h"
#include "jailwarden/service/jail_registry.h"
#include "jailwarden/service/runtime_rules.h"

namespace jailwarden::service {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing_support::FakeHostBackend;
using testing_support::RecordingEnforcer;

constexpr char kPolicy[] = R"(server:
  state_dir: STATE
  sample_interval: 100ms
jails:
  db:
    path: /srv/db
    persist: true
    limits:
      memoryuse: deny=64M
  web:
    path: /srv/web
    persist: true
    depend: db
    limits:
      maxproc: deny=20
      memoryuse: devctl=1M
rules:
  - jail:db:nthr:deny=50
)";

std::string WithState(std::string text, const std::string& state) {
  const std::size_t p = text.find("STATE");
  text.replace(p, 5, state);
  return text;
}

class ServiceTest : public testing_support::ScriptedDaemonTest {
 protected:
  void SetUp() override {
    MakeStateDir("jw-service");
    if (HasFatalFailure()) return;
    Start(WithState(kPolicy, state_));
  }
  void Start(const std::string& text, absl::Duration maintenance = absl::Hours(1)) {
    StartDaemon(text, maintenance);
  }
  std::vector<std::string> Rules() {
    absl::StatusOr<std::string> text = daemon_->Rctl().GetRules("::");
    EXPECT_TRUE(text.ok());
    std::vector<std::string> out;
    for (std::string_view r : Split(*text, ',')) {
      if (!r.empty()) out.emplace_back(r);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  int Creates(const std::string& jail) {
    int n = 0;
    for (const std::string& l : host_->runtime_ptr_->Log()) {
      if (l == StrCat("create ", jail)) ++n;
    }
    return n;
  }

};

TEST_F(ServiceTest, StartsPolicyJailsDependenciesFirstWithTheirLimits) {
  std::vector<std::string> creates;
  for (const std::string& l : host_->runtime_ptr_->Log()) {
    if (StartsWith(l, "create ")) creates.push_back(l);
  }
  EXPECT_THAT(creates, ElementsAre("create db", "create web"));
  const std::vector<api::JailInfo> jails = daemon_->ListJails();
  ASSERT_EQ(jails.size(), 2u);
  EXPECT_EQ(jails[0].name, "db");
  EXPECT_EQ(jails[0].state, "running");
  EXPECT_TRUE(jails[0].in_policy);
  EXPECT_EQ(jails[1].state, "running");
  EXPECT_THAT(host_->enforcer_.Applied("db"),
              ElementsAre("jail:db:memoryuse:deny=67108864", "jail:db:nthr:deny=50"));
  EXPECT_THAT(host_->enforcer_.Applied("web"),
              ElementsAre("jail:web:maxproc:deny=20", "jail:web:memoryuse:devctl=1048576"));
  EXPECT_THAT(Rules(), ElementsAre("jail:db:memoryuse:deny=67108864",
                                   "jail:db:nthr:deny=50", "jail:web:maxproc:deny=20",
                                   "jail:web:memoryuse:devctl=1048576"));
  ASSERT_EQ(jails[1].limits.size(), 2u);
  EXPECT_EQ(jails[1].limits[0].fidelity, "exact");
  EXPECT_TRUE(daemon_->Status().ready);
}

TEST_F(ServiceTest, RctlAddAndRemoveTakeEffectWithoutRestart) {
  ASSERT_TRUE(daemon_->Rctl().AddRule("jail:web:openfiles:deny=100").ok());
  EXPECT_THAT(host_->enforcer_.Applied("web"), Contains("jail:web:openfiles:deny=100"));
  ASSERT_TRUE(daemon_->Rctl().RemoveRule("jail:web:maxproc").ok());
  EXPECT_THAT(host_->enforcer_.Applied("web"),
              ElementsAre("jail:web:memoryuse:devctl=1048576",
                          "jail:web:openfiles:deny=100"));
  EXPECT_EQ(Creates("web"), 1);
  absl::Status none = daemon_->Rctl().RemoveRule("jail:web:maxproc");
  EXPECT_EQ(none.code(), absl::StatusCode::kNotFound);
}

TEST_F(ServiceTest, FailedEnforcementLeavesTheRuleDatabaseAsItWas) {
  host_->enforcer_.Fail(true);
  absl::Status s = daemon_->Rctl().AddRule("jail:web:openfiles:deny=100");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  host_->enforcer_.Fail(false);
  EXPECT_THAT(Rules(), Not(Contains("jail:web:openfiles:deny=100")));
}

TEST_F(ServiceTest, RctlAddWhoseApplyFailsLeavesRulesSnapshotAndKernelLimits) {
  const std::vector<std::string> rules_before = Rules();
  const std::vector<std::string> kernel_before = host_->enforcer_.Applied("web");
  absl::StatusOr<std::vector<api::RuleInfo>> described_before = daemon_->DescribeRules("::");
  ASSERT_TRUE(described_before.ok());
  const uint64_t rules_count = daemon_->Status().rules;
  host_->enforcer_.FailFor("web");
  absl::Status s = daemon_->Rctl().AddRule("jail:web:openfiles:deny=100");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(s.message(), "cgroup write failed");
  host_->enforcer_.FailFor("");
  EXPECT_EQ(Rules(), rules_before);
  EXPECT_EQ(host_->enforcer_.Applied("web"), kernel_before);
  EXPECT_EQ(daemon_->Status().rules, rules_count);
  absl::StatusOr<std::vector<api::RuleInfo>> described = daemon_->DescribeRules("::");
  ASSERT_TRUE(described.ok());
  ASSERT_EQ(described->size(), described_before->size());
  for (std::size_t i = 0; i < described->size(); ++i) {
    EXPECT_EQ((*described)[i].rule, (*described_before)[i].rule);
  }
  // The jail's view is the old one too.
  absl::StatusOr<api::JailInfo> web = daemon_->GetJail("web");
  ASSERT_TRUE(web.ok());
  EXPECT_EQ(web->limits.size(), 2u);
}

TEST_F(ServiceTest, ReloadWhoseApplyFailsOnOneJailPutsTheOthersBack) {
  std::string text = WithState(kPolicy, state_);
  text.replace(text.find("deny=64M"), 8, "deny=96M");   // db
  text.replace(text.find("deny=20"), 7, "deny=30");     // web
  const std::vector<std::string> db_before = host_->enforcer_.Applied("db");
  const std::vector<std::string> rules_before = Rules();
  host_->enforcer_.FailFor("web");
  absl::StatusOr<api::ApplyResult> r = daemon_->Apply(text, "new.yaml", false);
  host_->enforcer_.FailFor("");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("new limits could not be applied: cgroup write failed"));
  EXPECT_EQ(host_->enforcer_.Applied("db"), db_before);
  EXPECT_EQ(Rules(), rules_before);
  EXPECT_EQ(daemon_->Status().policy_generation, 1u);
  EXPECT_FALSE(daemon_->Status().last_reload_ok);
}

TEST_F(ServiceTest, CreateWhoseLimitApplyFailsDoesNotStartTheJail) {
  api::CreateJailRequest req;
  req.spec.name = "tmp1";
  req.spec.path = "/srv/tmp1";
  req.spec.exec.start = {"echo started-tmp1"};
  req.limits = {"memoryuse:deny=32M"};
  req.start = true;
  host_->enforcer_.FailFor("tmp1");
  absl::Status s = daemon_->CreateJail(req);
  host_->enforcer_.FailFor("");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), HasSubstr("limits of jail 'tmp1' could not be applied"));
  for (const std::string& l : host_->runtime_ptr_->Log()) {
    EXPECT_THAT(l, Not(HasSubstr("started-tmp1")));
  }
  EXPECT_THAT(host_->runtime_ptr_->Log(), Contains("remove tmp1"));
  EXPECT_EQ(daemon_->GetJail("tmp1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Rules(), Not(Contains("jail:tmp1:memoryuse:deny=33554432")));
  EXPECT_THAT(host_->enforcer_.Applied("tmp1"), ::testing::IsEmpty());
}

TEST_F(ServiceTest, BadReloadLeavesTheRunningPolicyAndSaysWhy) {
  const std::vector<std::string> before = Rules();
  absl::StatusOr<api::ApplyResult> r =
      daemon_->Apply("jails:\n  web:\n    pathh: /x\n", "new.yaml", false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("new.yaml:3:5"));
  EXPECT_EQ(Rules(), before);
  EXPECT_EQ(daemon_->ListJails().size(), 2u);
  const api::DaemonStatus st = daemon_->Status();
  EXPECT_FALSE(st.last_reload_ok);
  EXPECT_THAT(st.last_reload_error, HasSubstr("new.yaml:3:5"));
  EXPECT_EQ(st.policy_generation, 1u);
}

TEST_F(ServiceTest, ReloadChangingOnlyLimitsDoesNotRestart) {
  std::string text = WithState(kPolicy, state_);
  text.replace(text.find("deny=64M"), 8, "deny=96M");
  const int applies_before = host_->enforcer_.Applies("db");
  absl::StatusOr<api::ApplyResult> r = daemon_->Apply(text, "new.yaml", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->changed);
  EXPECT_THAT(r->diff, HasSubstr("limits jail db"));
  EXPECT_EQ(Creates("db"), 1);
  EXPECT_EQ(Creates("web"), 1);
  EXPECT_GT(host_->enforcer_.Applies("db"), applies_before);
  EXPECT_THAT(host_->enforcer_.Applied("db"), Contains("jail:db:memoryuse:deny=100663296"));
  EXPECT_THAT(Rules(), Not(Contains("jail:db:memoryuse:deny=67108864")));
  EXPECT_EQ(daemon_->Status().policy_generation, 2u);
}

TEST_F(ServiceTest, ReloadAddsRemovesAndRestartsOnlyWhatChanged) {
  std::string text = WithState(kPolicy, state_);
  // web's definition changes (path), cache is new, rules keep db.
  text.replace(text.find("/srv/web"), 8, "/srv/web2");
  text.replace(text.find("rules:"), 6,
               "  cache:\n    path: /srv/cache\n    persist: true\nrules:");
  absl::StatusOr<api::ApplyResult> r = daemon_->Apply(text, "new.yaml", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->failures.empty());
  EXPECT_EQ(Creates("db"), 1);
  EXPECT_EQ(Creates("web"), 2);
  EXPECT_EQ(Creates("cache"), 1);
  absl::StatusOr<api::JailInfo> web = daemon_->GetJail("web");
  ASSERT_TRUE(web.ok());
  EXPECT_EQ(web->path, "/srv/web2");
  // Now drop cache again.
  absl::StatusOr<api::ApplyResult> back =
      daemon_->Apply(WithState(kPolicy, state_), "old.yaml", false);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(daemon_->GetJail("cache").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ServiceTest, RulesAddedThroughTheApiSurviveAReload) {
  ASSERT_TRUE(daemon_->Rctl().AddRule("jail:web:openfiles:deny=100").ok());
  std::string text = WithState(kPolicy, state_);
  text.replace(text.find("deny=64M"), 8, "deny=96M");
  ASSERT_TRUE(daemon_->Apply(text, "new.yaml", false).ok());
  EXPECT_THAT(Rules(), Contains("jail:web:openfiles:deny=100"));
}

TEST_F(ServiceTest, UsageAndEventsComeFromTheSampler) {
  host_->reader_.Set("web", rctl::Resource::kMemoryuse, 2 << 20);
  (void)daemon_->sampler().TickOnce();
  absl::StatusOr<std::string> usage = daemon_->Rctl().GetRacct("jail:web");
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_THAT(*usage, HasSubstr("memoryuse=2097152"));
  std::vector<engine::EventStream::Event> events = daemon_->Events().Read(0);
  std::erase_if(events, [](const auto& e) { return e.type != engine::kEventLimit; });
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0].line,
              HasSubstr("!system=RCTL subsystem=rule type=matched "
                        "rule=jail:web:memoryuse:devctl=1048576"));
  EXPECT_THAT(events[0].line, HasSubstr("jail=web"));
  EXPECT_EQ(daemon_->Rctl().GetRacct("jail:").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ServiceTest, ApiJailsWithLimitsAndDestroy) {
  api::CreateJailRequest req;
  req.spec.name = "tmp1";
  req.spec.path = "/srv/tmp1";
  req.limits = {"memoryuse:deny=32M"};
  req.start = true;
  ASSERT_TRUE(daemon_->CreateJail(req).ok());
  EXPECT_THAT(host_->enforcer_.Applied("tmp1"), ElementsAre("jail:tmp1:memoryuse:deny=33554432"));
  absl::StatusOr<api::JailInfo> j = daemon_->GetJail("tmp1");
  ASSERT_TRUE(j.ok());
  EXPECT_FALSE(j->in_policy);
  EXPECT_EQ(j->state, "running");
  ASSERT_TRUE(daemon_->StopJail("tmp1").ok());
  EXPECT_EQ(daemon_->GetJail("tmp1")->state, "stopped");
  ASSERT_TRUE(daemon_->DestroyJail("tmp1").ok());
  EXPECT_THAT(Rules(), Not(Contains("jail:tmp1:memoryuse:deny=33554432")));
  req.limits = {"cputime:deny=5"};
  req.spec.name = "tmp2";
  absl::Status bad = daemon_->CreateJail(req);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("Operation not supported"));
  EXPECT_EQ(daemon_->GetJail("tmp2").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ServiceTest, ASecondDaemonOnTheSameStateDirIsRefusedAndChangesNothing) {
  const std::vector<std::string> log_before = host_->runtime_ptr_->Log();
  absl::StatusOr<policy::Policy> p = policy::LoadPolicyText(WithState(kPolicy, state_), "t.yaml");
  ASSERT_TRUE(p.ok());
  auto backend = std::make_unique<FakeHostBackend>();
  DaemonOptions o;
  o.serve_http = false;
  o.run_sampler = false;
  absl::StatusOr<std::unique_ptr<Daemon>> second =
      Daemon::Start(o, *std::move(p), std::move(backend));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr(StrCat("in use by jailwarden pid ", getpid())));
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(state_ + "/jailwarden.lock"));
  EXPECT_EQ(host_->runtime_ptr_->Log(), log_before);
  // The lock goes with the daemon: a new one starts.
  daemon_.reset();
  Start(WithState(kPolicy, state_));
  EXPECT_TRUE(daemon_->Status().ready);
}

TEST(StateDirLockTest, HoldsThePidAndIsReleasedWithTheObject) {
  char dir[] = "/tmp/jw-lock-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string state = StrCat(dir, "/state");
  absl::StatusOr<std::unique_ptr<StateDirLock>> first = StateDirLock::Acquire(state);
  ASSERT_TRUE(first.ok()) << first.status();
  std::ifstream in(state + "/jailwarden.lock");
  std::string pid;
  in >> pid;
  EXPECT_EQ(pid, StrCat(getpid()));
  EXPECT_EQ(StateDirLock::Acquire(state).status().code(), absl::StatusCode::kUnavailable);
  first->reset();
  EXPECT_TRUE(StateDirLock::Acquire(state).ok());
  (void)std::system(StrCat("rm -rf '", dir, "'").c_str());
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_F(ServiceTest, RctlAddIsWrittenBeforeItAnswersAndComesBackAfterARestart) {
  ASSERT_TRUE(daemon_->Rctl().AddRule("jail:web:openfiles:deny=100").ok());
  EXPECT_THAT(ReadText(state_ + "/runtime-rules.json"),
              HasSubstr("\"added\": [\n  \"jail:web:openfiles:deny=100\"\n ]"));
  const std::vector<std::string> before = Rules();
  daemon_.reset();  // as good as kill -9 here: nothing is written at exit
  Start(WithState(kPolicy, state_));
  EXPECT_EQ(Rules(), before);
  EXPECT_THAT(host_->enforcer_.Applied("web"), Contains("jail:web:openfiles:deny=100"));
}

TEST_F(ServiceTest, RctlRemovedPolicyRuleStaysRemovedAcrossARestartUntilApply) {
  ASSERT_TRUE(daemon_->Rctl().RemoveRule("jail:db:nthr").ok());
  EXPECT_THAT(ReadText(state_ + "/runtime-rules.json"),
              HasSubstr("\"removed\": [\n  \"jail:db:nthr:deny=50\"\n ]"));
  daemon_.reset();
  Start(WithState(kPolicy, state_));
  EXPECT_THAT(Rules(), Not(Contains("jail:db:nthr:deny=50")));
  EXPECT_THAT(host_->enforcer_.Applied("db"), ElementsAre("jail:db:memoryuse:deny=67108864"));
  // The same policy again: apply -n reports the drift, apply repairs it.
  absl::StatusOr<api::ApplyResult> dry =
      daemon_->Apply(WithState(kPolicy, state_), "same.yaml", true);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_TRUE(dry->changed);
  EXPECT_EQ(dry->diff, "rule +jail:db:nthr:deny=50 (drift: not in force)\n");
  EXPECT_THAT(Rules(), Not(Contains("jail:db:nthr:deny=50")));
  absl::StatusOr<api::ApplyResult> r =
      daemon_->Apply(WithState(kPolicy, state_), "same.yaml", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->changed);
  EXPECT_THAT(Rules(), Contains("jail:db:nthr:deny=50"));
  EXPECT_THAT(host_->enforcer_.Applied("db"), Contains("jail:db:nthr:deny=50"));
  EXPECT_THAT(ReadText(state_ + "/runtime-rules.json"), HasSubstr("\"removed\": []"));
  absl::StatusOr<api::ApplyResult> again =
      daemon_->Apply(WithState(kPolicy, state_), "same.yaml", true);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->diff, "");
}

TEST_F(ServiceTest, RuntimeDenyOverridesThePolicysAndSurvivesRestartAndApply) {
  ASSERT_TRUE(daemon_->Rctl().AddRule("jail:db:memoryuse:deny=20971520").ok());
  daemon_.reset();
  Start(WithState(kPolicy, state_));
  EXPECT_THAT(Rules(), Contains("jail:db:memoryuse:deny=20971520"));
  EXPECT_THAT(Rules(), Not(Contains("jail:db:memoryuse:deny=67108864")));
  absl::StatusOr<api::ApplyResult> r =
      daemon_->Apply(WithState(kPolicy, state_), "same.yaml", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->changed);
  EXPECT_THAT(host_->enforcer_.Applied("db"), Contains("jail:db:memoryuse:deny=20971520"));
}

TEST_F(ServiceTest, CreateLimitsComeBackAfterARestartAndGoWithTheJail) {
  api::CreateJailRequest req;
  req.spec.name = "lim1";
  req.spec.path = "/srv/lim1";
  req.limits = {"memoryuse:deny=20M"};
  req.start = true;
  ASSERT_TRUE(daemon_->CreateJail(req).ok());
  EXPECT_THAT(ReadText(state_ + "/runtime-rules.json"),
              HasSubstr("jail:lim1:memoryuse:deny=20971520"));
  daemon_.reset();
  Start(WithState(kPolicy, state_));
  EXPECT_THAT(Rules(), Contains("jail:lim1:memoryuse:deny=20971520"));
  ASSERT_TRUE(daemon_->DestroyJail("lim1").ok());
  EXPECT_THAT(Rules(), Not(Contains("jail:lim1:memoryuse:deny=20971520")));
  EXPECT_THAT(ReadText(state_ + "/runtime-rules.json"), Not(HasSubstr("lim1")));
}

// A limit the enforcer finds drifted at the maintenance pass (and wrote
// back) becomes a drift line on the event stream (/v1/events).
TEST_F(ServiceTest, LimitDriftIsStreamedAsAnEvent) {
  daemon_.reset();
  Start(WithState(kPolicy, state_), absl::Milliseconds(10));
  host_->enforcer_.Drift("db", platform::LimitDrift{"memoryuse", "/cg/db/memory.max", "max",
                                                    "67108864", true});
  std::vector<std::string> lines;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (lines.empty() && absl::Now() < deadline) {
    for (const engine::EventStream::Event& e : daemon_->Events().Read(0)) {
      if (e.line.find("type=drift") != std::string::npos) lines.push_back(e.line);
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_THAT(lines, ElementsAre("!system=jailwarden subsystem=limit type=drift jail=db "
                                 "resource=memoryuse mechanism=/cg/db/memory.max found=max "
                                 "want=67108864 repaired=yes"));
}

TEST(DriftEventLineTest, ValuesWithSpacesStayOneField) {
  EXPECT_EQ(DriftEventLine("web", platform::LimitDrift{"pcpu", "/cg/cpu.max", "max 100000",
                                                       "50000 100000", false}),
            "!system=jailwarden subsystem=limit type=drift jail=web resource=pcpu "
            "mechanism=/cg/cpu.max found=max,100000 want=50000,100000 repaired=no");
}

TEST_F(ServiceTest, ARuleThatCannotBeRecordedIsNotMade) {
  const std::vector<std::string> rules_before = Rules();
  const std::vector<std::string> kernel_before = host_->enforcer_.Applied("web");
  // The temp file's place is taken: the record cannot be written.
  const std::string tmp = state_ + "/runtime-rules.json.tmp";
  ASSERT_EQ(mkdir(tmp.c_str(), 0700), 0);
  absl::Status s = daemon_->Rctl().AddRule("jail:web:openfiles:deny=100");
  EXPECT_EQ(StatusErrno(s), EISDIR) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr(tmp));
  EXPECT_EQ(Rules(), rules_before);
  EXPECT_EQ(host_->enforcer_.Applied("web"), kernel_before);
  ASSERT_EQ(rmdir(tmp.c_str()), 0);
  daemon_.reset();
  Start(WithState(kPolicy, state_));
  EXPECT_EQ(Rules(), rules_before);
}

TEST(RuntimeRulesTest, RoundTripsAndRefusesWhatIsNotARecord) {
  RuntimeRules r;
  r.added.push_back(*rctl::ParseRuleForAdd("jail:a:memoryuse:deny=20971520"));
  r.removed.push_back(*rctl::ParseRuleForAdd("jail:b:nthr:deny=50"));
  absl::StatusOr<RuntimeRules> back = RuntimeRulesFromJson(RuntimeRulesToJson(r), "f");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->added, r.added);
  EXPECT_EQ(back->removed, r.removed);
  for (const char* bad : {"", "[]", "{\"version\": 2}", "{\"version\": 1, \"added\": 3}",
                          "{\"version\": 1, \"added\": [\"jail:a:cputime:deny=1\"]}"}) {
    absl::StatusOr<RuntimeRules> p = RuntimeRulesFromJson(bad, "x/runtime-rules.json");
    EXPECT_EQ(p.status().code(), absl::StatusCode::kDataLoss) << bad;
    EXPECT_THAT(std::string(p.status().message()), HasSubstr("x/runtime-rules.json: ")) << bad;
  }
}

TEST(RuntimeRulesTest, LoadOfNothingIsEmptyAndRemovesAStaleTempFile) {
  char dir[] = "/tmp/jw-rr-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = StrCat(dir, "/runtime-rules.json");
  std::ofstream(path + ".tmp") << "{\"half";
  absl::StatusOr<RuntimeRules> r = LoadRuntimeRules(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->empty());
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0);
  ASSERT_TRUE(WriteFileAtomically(path, "{\"version\": 1}\n").ok());
  EXPECT_EQ(ReadText(path), "{\"version\": 1}\n");
  (void)std::system(StrCat("rm -rf '", dir, "'").c_str());
}

TEST(HostBackendTest, CgroupParentIsPerStateDir) {
  EXPECT_EQ(CgroupParentFor("/var/lib/jailwarden"), "jailwarden");
  EXPECT_THAT(CgroupParentFor("/tmp/a"), ::testing::MatchesRegex("jailwarden-[0-9a-f]{8}"));
  EXPECT_NE(CgroupParentFor("/tmp/a"), CgroupParentFor("/tmp/b"));
}

TEST(HostBackendTest, RunDirIsTheSystemRuntimeDirectoryOnlyForTheDefaultStateDir) {
  EXPECT_EQ(RunDirFor("/var/lib/jailwarden"), "/run/jailwarden");
  EXPECT_EQ(RunDirFor("/tmp/a"), "/tmp/a/run");
}

TEST(HostBackendTest, FreeBsdBackendIsRefusedOnLinux) {
  absl::StatusOr<std::unique_ptr<HostBackend>> b =
      NewHostBackend(policy::Backend::kFreeBsd, LinuxBackendOptions{"/tmp/x", "/tmp/x-state"});
  EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("not meaningful"));
}

}  // namespace
}  // namespace jailwarden::service
