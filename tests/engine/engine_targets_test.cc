// The engine's targets (jails and their descendants, processes, users),
// re-binding as jails and processes come and go, and the statistics.

#include "fakes/fake_clock.h"
#include "jailwarden/engine/engine.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine_fixture.h"
#include "fakes/fake_usage_reader.h"
#include "fakes/recording_action_sink.h"
#include "fakes/snapshot_builder.h"
#include "gtest/gtest.h"
#include "jailwarden/base/strings.h"
#include "jailwarden/racct/sampler.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::engine {
namespace {

using fakes::RecordingActionSink;
using fakes::SnapshotBuilder;
using rctl::Resource;
using testing::EngineTest;
using testing::Kinds;
using testing::Rules;

TEST_F(EngineTest, JailRuleCoversDescendantsEachWithOwnContainer) {
  // A parent's container includes its children (§2): web ⊇ web's child api.
  b_.Jail("web", 1).Jail("api", 2, "web").Jail("other", 3);
  b_.Set("web", Resource::kMemoryuse, 700);
  b_.Set("api", Resource::kMemoryuse, 400);
  b_.Set("other", Resource::kMemoryuse, 10000);
  Compile(Rules({"jail:web:memoryuse:log=500"}));
  EXPECT_EQ(engine_.compile_info().jail_checks, 2u);
  Tick();
  // web's own container is over; api (400) is compared with ITS container.
  ASSERT_EQ(sink_.logs.size(), 1u);
  EXPECT_NE(sink_.logs[0].find("jail web"), std::string::npos);
  b_.Set("api", Resource::kMemoryuse, 600);
  b_.Set("web", Resource::kMemoryuse, 900);
  Tick();
  ASSERT_EQ(sink_.logs.size(), 2u);
  EXPECT_NE(sink_.logs[1].find("jail api"), std::string::npos);
  // jail:0-like root: a rule on a parent never looks at an unrelated jail.
  for (const std::string& l : sink_.logs) {
    EXPECT_EQ(l.find("jail other"), std::string::npos);
  }
}

TEST_F(EngineTest, PerProcessComparesEachProcess) {
  b_.Jail("web", 1).Jail("api", 2, "web");
  b_.Process(10, 1001, "a", "web").Process(11, 1002, "b", "web", 0);
  b_.Process(12, 1001, "c", "api");
  b_.SetProcess(10, Resource::kVmemoryuse, 50);
  b_.SetProcess(11, Resource::kVmemoryuse, 150);
  b_.SetProcess(12, Resource::kVmemoryuse, 200);
  b_.Set("web", Resource::kVmemoryuse, 400);  // the jail sum: not compared
  Compile(Rules({"jail:web:vmemoryuse:log=100/process"}));
  Tick();
  // Process links exist once a snapshot with slow-tier data is bound.
  EXPECT_EQ(engine_.compile_info().process_checks, 3u);
  ASSERT_EQ(sink_.logs.size(), 2u);
  EXPECT_EQ(sink_.logs[0],
            "rctl: rule \"jail:web:vmemoryuse:log=100/process\" matched by pid "
            "11 (b), uid 0, jail web");
  EXPECT_EQ(sink_.logs[1],
            "rctl: rule \"jail:web:vmemoryuse:log=100/process\" matched by pid "
            "12 (c), uid 1001, jail api");
}

TEST_F(EngineTest, PerUserComparesRealUidContainer) {
  b_.Jail("web", 1).Jail("db", 2);
  b_.Process(10, 1001, "a", "web").Process(11, 1001, "b", "db");
  b_.Process(12, 1002, "c", "web", 1001);  // euid 1001, ruid 1002
  b_.SetProcess(10, Resource::kMaxproc, 1);
  b_.SetProcess(11, Resource::kMaxproc, 1);
  b_.SetProcess(12, Resource::kMaxproc, 1);
  // user:1001 links to processes whose real OR effective uid is 1001; each
  // compares its REAL uid's container: 1001 has 2, 1002 has 1.
  Compile(Rules({"user:1001:maxproc:devctl=1"}));
  Tick();
  EXPECT_EQ(engine_.compile_info().process_checks, 3u);
  // Links in (jail slot, pid) order: db sorts before web.
  ASSERT_EQ(sink_.devctl.size(), 2u);
  EXPECT_EQ(sink_.devctl[0],
            "!system=RCTL subsystem=rule type=matched "
            "rule=user:1001:maxproc:devctl=1 pid=11 ruid=1001 jail=db");
  EXPECT_EQ(sink_.devctl[1],
            "!system=RCTL subsystem=rule type=matched "
            "rule=user:1001:maxproc:devctl=1 pid=10 ruid=1001 jail=web");
}

TEST_F(EngineTest, JailRulePerUserAndProcessRulePerJail) {
  b_.Jail("web", 1).Jail("db", 2);
  b_.Process(10, 1001, "a", "web").Process(11, 1001, "b", "db");
  b_.SetProcess(10, Resource::kNthr, 3);
  b_.SetProcess(11, Resource::kNthr, 3);
  b_.Set("db", Resource::kNthr, 50);
  // The user container spans jails: 6 > 5 though web's process has 3.
  // process:11 per jail compares db's container (50 > 40).
  Compile(Rules({"jail:web:nthr:log=5/user", "process:11:nthr:log=40/jail",
                 "process:11:nthr:log=4"}));
  Tick();
  ASSERT_EQ(sink_.logs.size(), 2u);
  EXPECT_NE(sink_.logs[0].find("\"jail:web:nthr:log=5/user\" matched by pid 10"),
            std::string::npos);
  EXPECT_NE(sink_.logs[1].find("\"process:11:nthr:log=40/jail\" matched by pid 11"),
            std::string::npos);
}

TEST_F(EngineTest, ProcessThrottleUsesOwnUsageAndPerContainer) {
  b_.Jail("db", 1).Process(10, 0, "dd", "db").Process(11, 0, "cp", "db");
  b_.SetProcess(10, Resource::kReadbps, 500);
  b_.Set("db", Resource::kReadbps, 3500);
  // jail subject, per=jail → jail-level; this one is per=process... use a
  // user rule per jail: U is the process's own 500, avail = 1000 − 3500.
  Compile(Rules({"user:0:readbps:throttle=1000/jail"}));
  Tick();
  ASSERT_EQ(sink_.throttles.size(), 2u);
  // pid 10: s = 1000 × 500 = 500000, ratio floor(2500/1000)=2 → ×5 → 2500
  // ticks, capped at 2000. pid 11 (U = 0): min×A → ×5 → 5 ticks.
  EXPECT_EQ(sink_.throttles[0].pid, 10);
  EXPECT_EQ(sink_.throttles[0].ticks, 2000);
  EXPECT_EQ(sink_.throttles[1].pid, 11);
  EXPECT_EQ(sink_.throttles[1].ticks, 5);
  EXPECT_EQ(sink_.throttles[1].target.kind, TargetKind::kProcess);
}

TEST_F(EngineTest, RepresentativeIsHeaviestProcessOfThatJail) {
  b_.Jail("web", 1).Jail("api", 2, "web");
  b_.Process(5, 1, "small", "web").Process(6, 2, "big", "web");
  b_.Process(7, 3, "child", "api");
  b_.SetProcess(5, Resource::kMemoryuse, 10);
  b_.SetProcess(6, Resource::kMemoryuse, 90);
  b_.SetProcess(7, Resource::kMemoryuse, 1000);  // in a child jail: ignored
  b_.Set("web", Resource::kMemoryuse, 2000);
  Compile(Rules({"jail:web:memoryuse:log=1500"}));
  Tick();
  ASSERT_EQ(sink_.logs.size(), 1u);
  EXPECT_NE(sink_.logs[0].find("pid 6 (big), uid 2, jail web"), std::string::npos);
}

TEST_F(EngineTest, VanishingJailDropsItsChecksAndKeepsOthersLatches) {
  b_.Jail("a", 1).Jail("b", 2);
  b_.Set("a", Resource::kMaxproc, 5).Set("b", Resource::kMaxproc, 5);
  Compile(Rules({"jail:a:maxproc:log=1", "jail:b:maxproc:log=1"}));
  Tick();
  EXPECT_EQ(sink_.logs.size(), 2u);
  b_.RemoveJail("b");
  const EvaluationResult& r = Tick();
  EXPECT_TRUE(r.rebound);
  EXPECT_EQ(r.checks, 1u);
  EXPECT_EQ(Kinds(r), std::vector{DecisionKind::kAlreadyReported});  // a kept
  EXPECT_EQ(engine_.compile_info().dormant, 1u);
  // b comes back (a new jail by that name): a fresh episode.
  b_.Jail("b", 3).Set("b", Resource::kMaxproc, 5);
  Tick();
  ASSERT_EQ(sink_.logs.size(), 3u);
  EXPECT_NE(sink_.logs[2].find("jail b"), std::string::npos);
  auto stats = engine_.Stats();
  EXPECT_EQ(Find(stats, "jail:a:maxproc:log=1", "a")->matched, 1u);
  EXPECT_EQ(Find(stats, "jail:a:maxproc:log=1", "a")->evaluations_over, 3u);
}

TEST_F(EngineTest, VanishingProcessDropsItsLinks) {
  b_.Jail("web", 1).Process(10, 0, "a", "web").Process(11, 0, "b", "web");
  b_.SetProcess(10, Resource::kOpenfiles, 50);
  b_.SetProcess(11, Resource::kOpenfiles, 50);
  Compile(Rules({"jail:web:openfiles:sigkill=10/process"}));
  Tick();
  EXPECT_EQ(sink_.signals.size(), 2u);
  EXPECT_EQ(sink_.signals[0].target.kind, TargetKind::kProcess);
  b_.RemoveProcess(11);
  const EvaluationResult& r = Tick();
  EXPECT_TRUE(r.rebound);
  EXPECT_EQ(r.checks, 1u);
  EXPECT_EQ(sink_.signals.size(), 2u);  // pid 10 still latched
}

TEST_F(EngineTest, SlowPassRebindKeepsJailLatchesAndThrottles) {
  b_.Jail("web", 1).Set("web", Resource::kNthr, 50);
  b_.Set("web", Resource::kPcpu, 90000000);
  Compile(Rules({"jail:web:nthr:log=10", "jail:web:pcpu:deny=50"}));
  Tick();
  ASSERT_EQ(sink_.logs.size(), 1u);
  ASSERT_EQ(sink_.throttles.size(), 1u);
  b_.NewSlowPass();
  const EvaluationResult& r = Tick();
  EXPECT_TRUE(r.rebound);
  EXPECT_EQ(sink_.logs.size(), 1u);       // still latched
  EXPECT_EQ(sink_.throttles.size(), 1u);  // still throttled, no repeat
  b_.Set("web", Resource::kPcpu, 0);
  b_.NewSlowPass();
  Tick();
  ASSERT_EQ(sink_.throttles.size(), 2u);
  EXPECT_EQ(sink_.throttles[1].ticks, 0);
  auto stats = engine_.Stats();
  EXPECT_EQ(Find(stats, "jail:web:nthr:log=10", "web")->evaluations_over, 3u);
}

TEST_F(EngineTest, RecompileKeepsLatchesOfUnchangedRules) {
  b_.Jail("web", 1).Set("web", Resource::kNthr, 50);
  rctl::RuleSet rules = Rules({"jail:web:nthr:log=10"});
  Compile(rules);
  Tick();
  ASSERT_TRUE(rules.Add(*rctl::ParseRuleForAdd("jail:web:nthr:log=20")).ok());
  ASSERT_TRUE(engine_.Compile(rules, last_->tick->jails).ok());
  Tick();
  ASSERT_EQ(sink_.logs.size(), 2u);  // only the new rule logs
  EXPECT_NE(sink_.logs[1].find("log=20"), std::string::npos);
}

TEST_F(EngineTest, AbsentResourceNeverMatches) {
  b_.Jail("web", 1);  // reader gives no swapuse
  Compile(Rules({"jail:web:swapuse:deny=0", "jail:web:swapuse:log=0"}));
  const EvaluationResult& r = Tick();
  EXPECT_TRUE(r.decisions.empty());
}

TEST_F(EngineTest, LoginclassUnsupportedAndAbsentJailDormant) {
  b_.Jail("web", 1);
  Compile(Rules({"loginclass:daemon:maxproc:log=1", "jail:ghost:maxproc:log=1",
                 "user:5:maxproc:log=1/loginclass"}));
  EXPECT_EQ(engine_.compile_info().rules, 3u);
  EXPECT_EQ(engine_.compile_info().unsupported, 2u);
  EXPECT_EQ(engine_.compile_info().dormant, 1u);
  EXPECT_EQ(Tick().checks, 0u);
}

TEST_F(EngineTest, ForEachStatsMatchesStats) {
  b_.Jail("web", 1).Jail("api", 2, "web").Set("api", Resource::kNthr, 9);
  b_.Process(10, 5, "a", "api").SetProcess(10, Resource::kNthr, 9);
  Compile(Rules({"jail:web:nthr:log=5", "process:10:nthr:deny=100"}));
  Tick();
  auto stats = engine_.Stats();
  std::vector<std::string> seen;
  engine_.ForEachStats([&](const RuleTargetStatsView& v) {
    seen.push_back(StrCat(v.rule_text, "@", v.jail, "#", v.target.pid, "=", v.headroom));
  });
  ASSERT_EQ(seen.size(), stats.size());
  ASSERT_EQ(seen.size(), 3u);  // web, api, process 10
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i], StrCat(stats[i].rule_text, "@", stats[i].jail, "#",
                              stats[i].target.pid, "=", stats[i].headroom));
  }
  const RuleTargetStats* p = Find(stats, "process:10:nthr:deny=100", "api", 10);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->headroom, 91);
  EXPECT_EQ(p->target.kind, TargetKind::kProcess);
}

TEST_F(EngineTest, StatsReadableWhileEvaluating) {
  for (int i = 0; i < 50; ++i) {
    const std::string name = StrCat("j", i);
    b_.Jail(name, i + 1).Set(name, Resource::kMaxproc, i);
  }
  rctl::RuleSet rules;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(rules
                    .Add(*rctl::ParseRuleForAdd(StrCat("jail:j", i, ":maxproc:log=25")))
                    .ok());
  }
  Compile(rules);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0};
  std::thread reader([&] {
    while (!stop.load()) {
      uint64_t n = 0;
      engine_.ForEachStats([&](const RuleTargetStatsView& v) { n += v.matched; });
      reads += engine_.Stats().size() > 0 ? 1 : 0;
    }
  });
  // Start once the reader runs, and keep evaluating until it has read
  // several times during evaluation (the machine may be loaded).
  while (reads.load() == 0) {
    std::this_thread::yield();
  }
  const uint64_t before = reads.load();
  std::vector<bool> present(50, true);
  for (int t = 0; t < 200 || (reads.load() < before + 3 && t < 200000); ++t) {
    // Jails come and go (re-binds) and usage moves over and under.
    const int j = t % 50;
    const std::string name = StrCat("j", j);
    if (t % 7 == 0 && present[j]) {
      b_.RemoveJail(name);
      present[j] = false;
    } else if (t % 7 == 3 && !present[j]) {
      b_.Jail(name, 1000 + t);
      present[j] = true;
    }
    b_.Set(name, Resource::kMaxproc, (t * 13) % 50);
    Tick();
  }
  stop = true;
  reader.join();
  EXPECT_GT(reads.load(), 0u);
}

TEST(EngineWithSamplerTest, TickCallbackEvaluatesScriptedUsage) {
  FakeClock clock;
  fakes::FakeUsageReader reader;
  reader.AddJail("web", 1);
  reader.SetTotal("web", Resource::kCputime, 0);
  reader.SetProcesses("web", {fakes::FakeUsageReader::Process(42, 80, "httpd", "web")});
  racct::SamplerOptions so;
  so.ncpu = 4;
  racct::Sampler sampler(reader, clock, so);
  RecordingActionSink sink;
  Engine engine(sink);
  std::vector<uint64_t> seqs;
  sampler.SetTickCallback([&](const std::shared_ptr<const racct::Snapshot>& s) {
    seqs.push_back(engine.Evaluate(*s).snapshot_seq);
  });
  auto first = sampler.TickOnce();
  ASSERT_TRUE(engine
                  .Compile(Rules({"jail:web:pcpu:log=100", "jail:web:pcpu:deny=150"}),
                           first->tick->jails)
                  .ok());
  // 2 CPUs busy for 3 s: new = 200 % each second; the kernel's integer
  // EWMA gives 140039062, 182023429, 194610539.
  for (int i = 0; i < 30; ++i) {
    reader.AddTotal("web", Resource::kCputime, 200000);
    clock.Advance(absl::Milliseconds(100));
    sampler.TickOnce();
  }
  EXPECT_EQ(seqs.size(), 31u);
  EXPECT_EQ(sampler.Latest()->usage(0)[rctl::Index(Resource::kPcpu)], 194610539);
  ASSERT_EQ(sink.logs.size(), 1u);
  EXPECT_EQ(sink.logs[0],
            "rctl: rule \"jail:web:pcpu:log=100\" matched by pid 42 (httpd), uid "
            "80, jail web");
  ASSERT_EQ(sink.throttles.size(), 1u);
  EXPECT_EQ(sink.throttles[0].ticks, -1);
}

}  // namespace
}  // namespace jailwarden::engine
