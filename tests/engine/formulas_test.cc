#include <limits>
#include <string>

#include "gtest/gtest.h"
#include "jailwarden/engine/engine.h"
#include "jailwarden/engine/event_stream.h"

namespace jailwarden::engine {
namespace {

TEST(FormulasTest, LogLineIsKernelFormat) {
  EXPECT_EQ(FormatLogLine("jail:web:memoryuse:log=1048576", 4242, "nginx", 80,
                          "web"),
            "rctl: rule \"jail:web:memoryuse:log=1048576\" matched by pid 4242 "
            "(nginx), uid 80, jail web");
}

TEST(FormulasTest, DevctlLineIsKernelFormat) {
  EXPECT_EQ(FormatDevctlLine("user:1001:maxproc:devctl=10", 77, 1001, "0"),
            "!system=RCTL subsystem=rule type=matched "
            "rule=user:1001:maxproc:devctl=10 pid=77 ruid=1001 jail=0");
}

TEST(FormulasTest, RuleTextTruncatedTo127LikeFixedSbuf) {
  // A 256-byte jail name makes the rule longer than RCTL_LOG_BUFSIZE.
  const std::string name(200, 'j');
  const std::string rule = "jail:" + name + ":memoryuse:log=1";
  const std::string log = FormatLogLine(rule, 1, "sh", 0, name);
  const std::string expected_rule = rule.substr(0, 127);
  EXPECT_EQ(log, "rctl: rule \"" + expected_rule + "\" matched by pid 1 (sh), "
                 "uid 0, jail " + name);
  // devctl: the whole "rule=... pid=... ruid=... jail=..." data is the sbuf.
  const std::string dev = FormatDevctlLine(rule, 1, 0, name);
  const std::string prefix = "!system=RCTL subsystem=rule type=matched ";
  ASSERT_EQ(dev.size(), prefix.size() + 127);
  EXPECT_EQ(dev, prefix + ("rule=" + rule).substr(0, 127));
  // Exactly 127 characters survive untouched.
  const std::string r127 = "jail:" + std::string(127 - 20, 'x') + ":nthr:log=12345";
  ASSERT_EQ(r127.size(), 127u);
  EXPECT_NE(FormatLogLine(r127, 1, "", 0, "x").find(r127), std::string::npos);
  const std::string r128 = r127 + "6";
  EXPECT_EQ(FormatLogLine(r128, 1, "", 0, "x").find(r128), std::string::npos);
}

TEST(FormulasTest, PpsRateCheckMatchesPpsratecheck) {
  const absl::Time t0 = absl::UnixEpoch() + absl::Hours(5);
  absl::Time last = absl::InfinitePast();
  int cur = 0;
  EXPECT_TRUE(PpsRateCheck(t0, last, cur, 2));                            // 1
  EXPECT_TRUE(PpsRateCheck(t0 + absl::Milliseconds(100), last, cur, 2));  // 2
  EXPECT_FALSE(PpsRateCheck(t0 + absl::Milliseconds(200), last, cur, 2)); // 3
  EXPECT_EQ(cur, 3);  // denied calls still count
  EXPECT_FALSE(PpsRateCheck(t0 + absl::Milliseconds(999), last, cur, 2));
  // The window restarts at the first call one second after its start.
  EXPECT_TRUE(PpsRateCheck(t0 + absl::Seconds(1), last, cur, 2));
  EXPECT_EQ(last, t0 + absl::Seconds(1));
  EXPECT_EQ(cur, 1);
  // 0 allows nothing, negative everything.
  absl::Time l2 = absl::InfinitePast();
  int c2 = 0;
  EXPECT_FALSE(PpsRateCheck(t0, l2, c2, 0));
  EXPECT_FALSE(PpsRateCheck(t0, l2, c2, 0));
  absl::Time l3 = absl::InfinitePast();
  int c3 = 0;
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(PpsRateCheck(t0, l3, c3, -1));
  }
}

TEST(FormulasTest, ThrottleTicksFollowsSection75) {
  EngineOptions o;  // hz 1000, min 1, max 2·hz, pct 100, pct2 100
  // At the amount: hz × U/A = 1000 ticks.
  EXPECT_EQ(ThrottleTicks(1000, 1000, 0, o), 1000);
  EXPECT_EQ(ThrottleTicks(500, 1000, 500, o), 500);
  // Nothing used: at least throttle_min.
  EXPECT_EQ(ThrottleTicks(0, 1000, 1000, o), 1);
  // Container over by 2 × A: × (1 + 1 × 2²) = 5, then capped at 2000.
  EXPECT_EQ(ThrottleTicks(300, 1000, -2000, o), 1500);
  EXPECT_EQ(ThrottleTicks(3000, 1000, -2000, o), 2000);
  // floor(overshoot / A): 999 over is ratio 0.
  EXPECT_EQ(ThrottleTicks(100, 1000, -999, o), 100);
  // Overshoot 1 × A: × 2.
  EXPECT_EQ(ThrottleTicks(100, 1000, -1000, o), 200);
  // A == 0: max.
  EXPECT_EQ(ThrottleTicks(5, 0, -5, o), 2000);
  // pct halves the base; pct2 = 0 removes the container term.
  o.throttle_pct = 50;
  EXPECT_EQ(ThrottleTicks(1000, 1000, 0, o), 500);
  o.throttle_pct = 100;
  o.throttle_pct2 = 0;
  EXPECT_EQ(ThrottleTicks(300, 1000, -2000, o), 300);
  // Explicit min/max and hz.
  EngineOptions p;
  p.hz = 100;
  p.throttle_min = 5;
  p.throttle_max = 50;
  EXPECT_EQ(ThrottleTicks(10, 1000, 990, p), 5);     // 1 tick → min 5
  EXPECT_EQ(ThrottleTicks(1500, 1000, -500, p), 50);  // 150 → max 50
  EXPECT_EQ(ThrottleTicks(300, 1000, 700, p), 30);
  // Saturating maths: huge usage caps at max, no wrap.
  EXPECT_EQ(ThrottleTicks(std::numeric_limits<int64_t>::max(), 1,
                          std::numeric_limits<int64_t>::min(), o),
            2000);
}

TEST(FormulasTest, PcpuAvailableShift) {
  // limit > 2 × RCTL_PCPU_SHIFT: minus 10 percentage points.
  EXPECT_EQ(PcpuAvailable(15000000, 50000000), 5000000);
  EXPECT_EQ(PcpuAvailable(0, 20000001), -10000000);
  // Otherwise minus limit / 2.
  EXPECT_EQ(PcpuAvailable(15000000, 20000000), 5000000);
  EXPECT_EQ(PcpuAvailable(4000000, 10000000), -1000000);
  // No deny rule (limit 0): unchanged.
  EXPECT_EQ(PcpuAvailable(7, 0), 7);
}

TEST(FormulasTest, ValidateOptionsLikeSysctlHandlers) {
  EngineOptions o;
  EXPECT_TRUE(ValidateEngineOptions(o).ok());
  o.throttle_min = 0;
  EXPECT_EQ(ValidateEngineOptions(o).code(), absl::StatusCode::kInvalidArgument);
  o.throttle_min = 2001;  // > 2·hz
  EXPECT_EQ(ValidateEngineOptions(o).code(), absl::StatusCode::kInvalidArgument);
  o = EngineOptions();
  o.throttle_pct = -1;
  EXPECT_EQ(ValidateEngineOptions(o).code(), absl::StatusCode::kInvalidArgument);
  o = EngineOptions();
  o.throttle_pct2 = -1;
  EXPECT_EQ(ValidateEngineOptions(o).code(), absl::StatusCode::kInvalidArgument);
  o = EngineOptions();
  o.hz = 0;
  EXPECT_EQ(ValidateEngineOptions(o).code(), absl::StatusCode::kInvalidArgument);
}

TEST(EventStreamTest, AppendReadAndDrop) {
  EventStream s(3);
  EXPECT_EQ(s.Append("a"), 1u);
  EXPECT_EQ(s.Append("b"), 2u);
  auto all = s.Read(0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].line, "b");
  s.Append("c");
  s.Append("d");
  s.Append("e");
  uint64_t dropped = 0;
  auto tail = s.Read(1, &dropped);
  ASSERT_EQ(tail.size(), 3u);
  EXPECT_EQ(tail[0].line, "c");
  EXPECT_EQ(dropped, 1u);  // "b" is gone
  EXPECT_EQ(s.Read(5).size(), 0u);
  EXPECT_EQ(s.last_seq(), 5u);
  EXPECT_EQ(s.dropped_total(), 2u);
}

}  // namespace
}  // namespace jailwarden::engine
