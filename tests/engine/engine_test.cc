// The engine's actions and limits: latches, rate limits, deny, throttle
// and pcpu.

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

TEST_F(EngineTest, LimitIsInclusive) {
  b_.Jail("web", 1).Process(100, 80, "nginx", "web", 81);
  b_.Set("web", Resource::kMemoryuse, 1000);
  Compile(Rules({"jail:web:memoryuse:log=1000"}));
  EXPECT_TRUE(Tick().decisions.empty());  // usage == amount: not exceeded
  EXPECT_TRUE(sink_.logs.empty());
  b_.Set("web", Resource::kMemoryuse, 1001);
  const EvaluationResult& r = Tick();
  EXPECT_EQ(r.exceeded, 1u);
  ASSERT_EQ(sink_.logs.size(), 1u);
  // Jail target: the heaviest process of the jail; uid is the effective one.
  EXPECT_EQ(sink_.logs[0],
            "rctl: rule \"jail:web:memoryuse:log=1000\" matched by pid 100 "
            "(nginx), uid 81, jail web");
}

TEST_F(EngineTest, LogLatchesPerEpisodeAndRearms) {
  b_.Jail("web", 1).Set("web", Resource::kMaxproc, 11);
  Compile(Rules({"jail:web:maxproc:log=10"}));
  EXPECT_EQ(Kinds(Tick()), std::vector{DecisionKind::kLogged});
  EXPECT_EQ(Kinds(Tick()), std::vector{DecisionKind::kAlreadyReported});
  EXPECT_EQ(Kinds(Tick()), std::vector{DecisionKind::kAlreadyReported});
  EXPECT_EQ(sink_.logs.size(), 1u);
  // Back to the amount (inclusive): re-armed, nothing reported.
  b_.Set("web", Resource::kMaxproc, 10);
  EXPECT_TRUE(Tick().decisions.empty());
  b_.Set("web", Resource::kMaxproc, 12);
  EXPECT_EQ(Kinds(Tick()), std::vector{DecisionKind::kLogged});
  EXPECT_EQ(sink_.logs.size(), 2u);
  // No process known in the jail: pid -1, empty comm, uid -1.
  EXPECT_EQ(sink_.logs[1],
            "rctl: rule \"jail:web:maxproc:log=10\" matched by pid -1 (), uid -1, "
            "jail web");
  auto stats = engine_.Stats();
  const RuleTargetStats* s = Find(stats, "jail:web:maxproc:log=10", "web");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->matched, 2u);           // two episodes
  EXPECT_EQ(s->evaluations_over, 4u);  // four evaluations over
  EXPECT_EQ(s->usage, 12);
  EXPECT_EQ(s->headroom, -2);
  EXPECT_TRUE(s->exceeded);
  EXPECT_TRUE(s->latched);
  EXPECT_TRUE(s->has_decision);
  EXPECT_EQ(s->last_decision, DecisionKind::kLogged);
}

TEST_F(EngineTest, DevctlAndSignalLatchLikeLog) {
  b_.Jail("web", 1).Process(7, 1001, "php", "web", 0);
  b_.Set("web", Resource::kOpenfiles, 500);
  Compile(Rules({"jail:web:openfiles:devctl=100", "jail:web:openfiles:sigterm=200"}));
  const EvaluationResult& r = Tick();
  EXPECT_EQ(r.decisions.size(), 2u);
  ASSERT_EQ(sink_.devctl.size(), 1u);
  // devctl carries the REAL uid.
  EXPECT_EQ(sink_.devctl[0],
            "!system=RCTL subsystem=rule type=matched "
            "rule=jail:web:openfiles:devctl=100 pid=7 ruid=1001 jail=web");
  ASSERT_EQ(sink_.signals.size(), 1u);
  EXPECT_EQ(sink_.signals[0].signal, rctl::Action::kSigterm);
  EXPECT_EQ(sink_.signals[0].jail, "web");
  EXPECT_EQ(sink_.signals[0].target.kind, TargetKind::kJail);
  Tick();
  Tick();
  EXPECT_EQ(sink_.devctl.size(), 1u);
  EXPECT_EQ(sink_.signals.size(), 1u);
  // Under the sigterm amount but over devctl's: only sigterm re-arms.
  b_.Set("web", Resource::kOpenfiles, 150);
  Tick();
  b_.Set("web", Resource::kOpenfiles, 201);
  Tick();
  EXPECT_EQ(sink_.devctl.size(), 1u);
  EXPECT_EQ(sink_.signals.size(), 2u);
}

TEST_F(EngineTest, EveryMatchingRuleIsProcessed) {
  b_.Jail("web", 1).Set("web", Resource::kVmemoryuse, 5000);
  Compile(Rules({"jail:web:vmemoryuse:log=1000", "jail:web:vmemoryuse:log=2000",
                 "jail:web:vmemoryuse:deny=4000", "jail:web:vmemoryuse:log=9000"}));
  const EvaluationResult& r = Tick();
  EXPECT_EQ(r.exceeded, 3u);
  EXPECT_EQ(r.deny_at_or_over, 1u);
  EXPECT_EQ(sink_.logs.size(), 2u);
  EXPECT_EQ(r.decisions.size(), 3u);
}

TEST_F(EngineTest, DenyReportsAtOrOverAndSampledDecision) {
  options_.deny_is_sampled = [](const rctl::Rule& rule) {
    return rule.resource == Resource::kMemoryuse;
  };
  Engine engine(sink_, options_);
  b_.Jail("web", 1).Set("web", Resource::kMemoryuse, 99);
  b_.Set("web", Resource::kMaxproc, 10);
  auto snap = b_.Build();
  ASSERT_TRUE(engine
                  .Compile(Rules({"jail:web:memoryuse:deny=100",
                                  "jail:web:maxproc:deny=10"}),
                           snap->tick->jails)
                  .ok());
  const EvaluationResult& r1 = engine.Evaluate(*snap);
  // maxproc at its amount: the kernel refuses the next fork.
  ASSERT_EQ(r1.decisions.size(), 1u);
  EXPECT_EQ(r1.decisions[0].kind, DecisionKind::kDenyAtOrOver);
  EXPECT_EQ(r1.decisions[0].resource, Resource::kMaxproc);
  EXPECT_EQ(r1.exceeded, 0u);
  EXPECT_EQ(r1.deny_at_or_over, 1u);
  b_.Set("web", Resource::kMemoryuse, 100);
  const EvaluationResult& r2 = engine.Evaluate(*b_.Build());
  EXPECT_EQ(r2.deny_at_or_over, 2u);
  auto stats = engine.Stats();
  const RuleTargetStats* mem = Find(stats, "jail:web:memoryuse:deny=100", "web");
  ASSERT_NE(mem, nullptr);
  EXPECT_TRUE(mem->sampled_deny);
  EXPECT_TRUE(mem->sampled_deny_active);
  EXPECT_EQ(mem->headroom, 0);
  const RuleTargetStats* mp = Find(stats, "jail:web:maxproc:deny=10", "web");
  ASSERT_NE(mp, nullptr);
  EXPECT_FALSE(mp->sampled_deny);
  b_.Set("web", Resource::kMemoryuse, 50);
  engine.Evaluate(*b_.Build());
  stats = engine.Stats();
  mem = Find(stats, "jail:web:memoryuse:deny=100", "web");
  EXPECT_FALSE(mem->sampled_deny_active);
  EXPECT_EQ(mem->headroom, 50);
  // No action ever reaches the sink for deny.
  EXPECT_TRUE(sink_.logs.empty());
  EXPECT_TRUE(sink_.throttles.empty());
}

TEST_F(EngineTest, LogAndDevctlShareSeparateGlobalRateLimits) {
  for (int i = 0; i < 12; ++i) {
    const std::string name = "j" + std::to_string(10 + i);
    b_.Jail(name, i + 1).Set(name, Resource::kNthr, 5);
  }
  rctl::RuleSet rules;
  for (int i = 0; i < 12; ++i) {
    const std::string name = "j" + std::to_string(10 + i);
    ASSERT_TRUE(rules.Add(*rctl::ParseRuleForAdd("jail:" + name + ":nthr:log=1")).ok());
    ASSERT_TRUE(
        rules.Add(*rctl::ParseRuleForAdd("jail:" + name + ":nthr:devctl=1")).ok());
  }
  Compile(rules);
  const EvaluationResult& r = Tick();
  EXPECT_EQ(sink_.logs.size(), 10u);    // kern.racct.rctl.log_rate_limit
  EXPECT_EQ(sink_.devctl.size(), 10u);  // its own budget
  int limited = 0;
  for (const Decision& d : r.decisions) {
    limited += d.kind == DecisionKind::kRateLimited;
  }
  EXPECT_EQ(limited, 4);
  // Same second: still limited; the suppressed ones were not latched.
  Tick();
  EXPECT_EQ(sink_.logs.size(), 10u);
  // 1 s after the window opened: the remaining two of each go out.
  b_.Advance(absl::Milliseconds(800));
  Tick();
  EXPECT_EQ(sink_.logs.size(), 12u);
  EXPECT_EQ(sink_.devctl.size(), 12u);
  Tick();
  EXPECT_EQ(sink_.logs.size(), 12u);  // all latched now
}

TEST_F(EngineTest, RateLimitIsConfigurable) {
  options_.log_rate_limit = 0;
  options_.devctl_rate_limit = -1;
  Engine engine(sink_, options_);
  for (int i = 0; i < 30; ++i) {
    const std::string name = "j" + std::to_string(i);
    b_.Jail(name, i + 1).Set(name, Resource::kNthr, 5);
  }
  rctl::RuleSet rules;
  for (int i = 0; i < 30; ++i) {
    const std::string name = "j" + std::to_string(i);
    ASSERT_TRUE(rules.Add(*rctl::ParseRuleForAdd("jail:" + name + ":nthr:log=1")).ok());
    ASSERT_TRUE(
        rules.Add(*rctl::ParseRuleForAdd("jail:" + name + ":nthr:devctl=1")).ok());
  }
  auto snap = b_.Build();
  ASSERT_TRUE(engine.Compile(rules, snap->tick->jails).ok());
  engine.Evaluate(*snap);
  EXPECT_EQ(sink_.logs.size(), 0u);
  EXPECT_EQ(sink_.devctl.size(), 30u);
}

TEST_F(EngineTest, IoThrottleRecomputedEveryEvaluation) {
  b_.Jail("db", 1).Set("db", Resource::kWritebps, 3000);
  Compile(Rules({"jail:db:writebps:throttle=1000"}));
  const EvaluationResult& r = Tick();
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].kind, DecisionKind::kThrottled);
  // U = 3000, A = 1000, avail = -2000: 3000 × 5 ticks → capped at 2·hz.
  EXPECT_EQ(r.decisions[0].throttle_ticks, 2000);
  b_.Set("db", Resource::kWritebps, 1500);
  Tick();
  b_.Set("db", Resource::kWritebps, 1000);  // at the amount: no throttle
  Tick();
  ASSERT_EQ(sink_.throttles.size(), 2u);
  EXPECT_EQ(sink_.throttles[0].ticks, 2000);
  EXPECT_EQ(sink_.throttles[0].duration, absl::Seconds(2));
  // 1500: hz × 1.5 = 1500 ticks, ratio floor(500/1000) = 0.
  EXPECT_EQ(sink_.throttles[1].ticks, 1500);
  EXPECT_EQ(sink_.throttles[1].resource, Resource::kWritebps);
  EXPECT_EQ(sink_.throttles[1].jail, "db");
}

TEST_F(EngineTest, PcpuDenyBecomesThrottleWithShift) {
  b_.Jail("web", 1).Set("web", Resource::kPcpu, 39999999);
  // 50 %: throttling starts 10 points early, at 40 %.
  Compile(Rules({"jail:web:pcpu:deny=50"}));
  Tick();
  EXPECT_TRUE(sink_.throttles.empty());
  b_.Set("web", Resource::kPcpu, 40000000);
  const EvaluationResult& r = Tick();
  ASSERT_EQ(sink_.throttles.size(), 1u);
  EXPECT_EQ(sink_.throttles[0].ticks, -1);
  EXPECT_EQ(sink_.throttles[0].resource, Resource::kPcpu);
  EXPECT_EQ(Kinds(r), std::vector{DecisionKind::kThrottled});
  Tick();  // still throttled: nothing new
  EXPECT_EQ(sink_.throttles.size(), 1u);
  b_.Set("web", Resource::kPcpu, 60000000);
  const EvaluationResult& r2 = Tick();  // over the amount: deny at-or-over
  EXPECT_EQ(Kinds(r2), std::vector{DecisionKind::kDenyAtOrOver});
  b_.Set("web", Resource::kPcpu, 30000000);
  const EvaluationResult& r3 = Tick();
  ASSERT_EQ(sink_.throttles.size(), 2u);
  EXPECT_EQ(sink_.throttles[1].ticks, 0);  // woken
  EXPECT_EQ(Kinds(r3), std::vector{DecisionKind::kWoken});
}

TEST_F(EngineTest, PcpuSmallLimitShiftsByHalfAndMinimumRuleWins) {
  b_.Jail("web", 1).Set("web", Resource::kPcpu, 5000000);
  // 10 % → shift 5 %: available 10 − 5 − 5 = 0 → throttle. The 80 % rule
  // has more room, so the 10 % rule sets the shift.
  Compile(Rules({"jail:web:pcpu:deny=80", "jail:web:pcpu:deny=10"}));
  Tick();
  ASSERT_EQ(sink_.throttles.size(), 1u);
  b_.Set("web", Resource::kPcpu, 4999999);
  Tick();
  ASSERT_EQ(sink_.throttles.size(), 2u);
  EXPECT_EQ(sink_.throttles[1].ticks, 0);
}

TEST_F(EngineTest, PcpuThresholdMustBeExceeded) {
  options_.pcpu_threshold = 1000000;  // 1 %
  Engine engine(sink_, options_);
  b_.Jail("web", 1).Set("web", Resource::kPcpu, 1000000);
  auto snap = b_.Build();
  // deny=0: available = −usage ≤ 0 always, no shift for a zero limit.
  ASSERT_TRUE(engine.Compile(Rules({"jail:web:pcpu:deny=0"}), snap->tick->jails).ok());
  engine.Evaluate(*snap);
  EXPECT_TRUE(sink_.throttles.empty());  // 1 % is not > 1 %
  b_.Set("web", Resource::kPcpu, 1000001);
  engine.Evaluate(*b_.Build());
  EXPECT_EQ(sink_.throttles.size(), 1u);
}

}  // namespace
}  // namespace jailwarden::engine

namespace jailwarden::engine {
namespace {

TEST_F(EngineTest, SampledBitsGivenWithTheRulesTakeThePlaceOfTheOption) {
  Engine engine(sink_, options_);  // no deny_is_sampled in the options
  b_.Jail("web", 1).Set("web", Resource::kMemoryuse, 100);
  b_.Set("web", Resource::kMaxproc, 10);
  auto snap = b_.Build();
  const rctl::RuleSet rules =
      Rules({"jail:web:memoryuse:deny=100", "jail:web:maxproc:deny=10"});
  const std::vector<uint8_t> sampled = {1, 0};
  ASSERT_TRUE(engine.Compile(std::span<const rctl::Rule>(rules.rules()),
                             std::span<const uint8_t>(sampled), snap->tick->jails)
                  .ok());
  engine.Evaluate(*snap);
  auto stats = engine.Stats();
  const RuleTargetStats* mem = Find(stats, "jail:web:memoryuse:deny=100", "web");
  ASSERT_NE(mem, nullptr);
  EXPECT_TRUE(mem->sampled_deny);
  EXPECT_TRUE(mem->sampled_deny_active);
  const RuleTargetStats* mp = Find(stats, "jail:web:maxproc:deny=10", "web");
  ASSERT_NE(mp, nullptr);
  EXPECT_FALSE(mp->sampled_deny);
  const std::vector<uint8_t> short_bits = {1};
  absl::Status s = engine.Compile(std::span<const rctl::Rule>(rules.rules()),
                                  std::span<const uint8_t>(short_bits), snap->tick->jails);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "sampled_denies has 1 entries for 2 rules");
}

}  // namespace
}  // namespace jailwarden::engine
