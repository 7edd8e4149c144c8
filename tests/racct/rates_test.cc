#include "jailwarden/racct/rates.h"

#include <limits>

#include "gtest/gtest.h"
#include "jailwarden/rctl/kernel_form.h"

namespace jailwarden::racct {
namespace {

using rctl::Resource;

TEST(RatesTest, PcpuIsKernelIntegerEwma) {
  // new = 0.5 s of CPU in 1 s = 50 % → 50 × 10^6; the kernel's
  // ((2048 - 614) × new + 614 × old) / 2048, truncating.
  EXPECT_EQ(NextPcpu(0, 500000, 1000000, 1), 35009765);
  EXPECT_EQ(NextPcpu(35009765, 500000, 1000000, 1), 45505857);
  // Constant load converges to the load.
  int64_t p = 0;
  for (int i = 0; i < 40; ++i) {
    p = NextPcpu(p, 500000, 1000000, 1);
  }
  EXPECT_NEAR(static_cast<double>(p), 50e6, 2.0);
  // Idle: only the 0.3 × old term remains.
  EXPECT_EQ(NextPcpu(100000000, 0, 1000000, 4), int64_t{100000000} * 614 / 2048);
}

TEST(RatesTest, PcpuClampsToHundredTimesNcpu) {
  // 3 CPU-seconds in 1 s: new = 300 %, 0.7 × 300 % = 210 % > 2 CPUs.
  EXPECT_EQ(NextPcpu(0, 3000000, 1000000, 2), 200000000);
  EXPECT_EQ(NextPcpu(0, 3000000, 1000000, 4), 300000000LL * 1434 / 2048);
  // Negative growth (counter reset) counts as idle; zero elapsed is a no-op.
  EXPECT_EQ(NextPcpu(2048, -5, 1000000, 1), 614);
  EXPECT_EQ(NextPcpu(777, 100, 0, 1), 777);
  // Huge growth saturates instead of overflowing.
  EXPECT_EQ(NextPcpu(0, std::numeric_limits<int64_t>::max() / 2, 1, 8),
            800000000);
}

TEST(RatesTest, ThrottleDecayMatchesKernel) {
  // rctl_throttle_decay: < m → 0; else cap at 10 m, subtract m.
  EXPECT_EQ(ThrottleDecay(99, 100), 0);
  EXPECT_EQ(ThrottleDecay(100, 100), 0);
  EXPECT_EQ(ThrottleDecay(250, 100), 150);
  EXPECT_EQ(ThrottleDecay(1000, 100), 900);
  EXPECT_EQ(ThrottleDecay(5000, 100), 900);
  // No throttle rule: INT64_MAX, so the window resets every second.
  EXPECT_EQ(ThrottleDecay(123456789, std::numeric_limits<int64_t>::max()), 0);
  // A zero amount: usage 0 - 0.
  EXPECT_EQ(ThrottleDecay(500, 0), 0);
  // 10 × m overflow saturates.
  const int64_t big = std::numeric_limits<int64_t>::max() / 2;
  EXPECT_EQ(ThrottleDecay(std::numeric_limits<int64_t>::max(), big),
            std::numeric_limits<int64_t>::max() - big);
}

TEST(RatesTest, IoIndex) {
  EXPECT_EQ(IoIndex(Resource::kReadbps), 0);
  EXPECT_EQ(IoIndex(Resource::kWriteiops), 3);
  EXPECT_EQ(IoIndex(Resource::kPcpu), -1);
  EXPECT_EQ(IoIndex(Resource::kCputime), -1);
}

TEST(RatesTest, ThrottleMinimumsFromRules) {
  rctl::RuleSet rules;
  for (const char* text :
       {"jail:web:readbps:throttle=1000", "jail:web:readbps:throttle=500",
        "jail:web:writeiops:throttle=7", "user:1001:writebps:throttle=9",
        "process:42:readiops:throttle=3", "jail:web:readbps:log=1",
        "jail:db:memoryuse:deny=100"}) {
    auto rule = rctl::ParseRuleForAdd(text);
    ASSERT_TRUE(rule.ok()) << text << ": " << rule.status();
    ASSERT_TRUE(rules.Add(*rule).ok()) << text;
  }
  ThrottleMinimums m = ThrottleMinimums::FromRules(rules);
  const int64_t inf = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(m.Jail("web"), (IoMinimums{500, inf, inf, 7}));
  EXPECT_EQ(m.Jail("db"), kNoThrottle);
  EXPECT_EQ(m.User(1001), (IoMinimums{inf, 9, inf, inf}));
  EXPECT_EQ(m.Process(42), (IoMinimums{inf, inf, 3, inf}));
  EXPECT_EQ(m.Process(43), kNoThrottle);
}

platform::RawUsage Total(Resource r, int64_t v) {
  platform::RawUsage raw;
  raw.value[rctl::Index(r)] = v;
  raw.present[rctl::Index(r)] = true;
  raw.cumulative[rctl::Index(r)] = true;
  return raw;
}

TEST(RatesTest, IoWindowCountsCurrentSecondAndResetsWithoutRules) {
  RateState state;
  const absl::Time t0 = absl::UnixEpoch();
  rctl::UsageVector out{};
  platform::ResourceMask present;
  const std::size_t rb = rctl::Index(Resource::kReadbps);
  state.Update(Total(Resource::kReadbps, 10000), t0, false, kNoThrottle, 1, out,
               present);
  EXPECT_EQ(out[rb], 0);  // first reading only sets the base
  EXPECT_TRUE(present[rb]);
  state.Update(Total(Resource::kReadbps, 11000), t0, false, kNoThrottle, 1, out,
               present);
  EXPECT_EQ(out[rb], 1000);
  state.Update(Total(Resource::kReadbps, 11500), t0, false, kNoThrottle, 1, out,
               present);
  EXPECT_EQ(out[rb], 1500);
  // racctd pass: decay (no rule → 0) first, then this tick's 200 bytes.
  state.Update(Total(Resource::kReadbps, 11700), t0, true, kNoThrottle, 1, out,
               present);
  EXPECT_EQ(out[rb], 200);
  // Counter went backwards (reset): no growth, new base.
  state.Update(Total(Resource::kReadbps, 50), t0, false, kNoThrottle, 1, out,
               present);
  EXPECT_EQ(out[rb], 200);
  state.Update(Total(Resource::kReadbps, 80), t0, false, kNoThrottle, 1, out,
               present);
  EXPECT_EQ(out[rb], 230);
}

TEST(RatesTest, IoWindowCarriesExcessOverThrottleMinimum) {
  RateState state;
  const absl::Time t0 = absl::UnixEpoch();
  rctl::UsageVector out{};
  platform::ResourceMask present;
  const std::size_t wb = rctl::Index(Resource::kWritebps);
  IoMinimums mins = kNoThrottle;
  mins[1] = 1000;
  state.Update(Total(Resource::kWritebps, 0), t0, false, mins, 1, out, present);
  state.Update(Total(Resource::kWritebps, 2500), t0, false, mins, 1, out,
               present);
  EXPECT_EQ(out[wb], 2500);
  state.Update(Total(Resource::kWritebps, 2500), t0, true, mins, 1, out,
               present);
  EXPECT_EQ(out[wb], 1500);  // 2500 - 1000 carried
  state.Update(Total(Resource::kWritebps, 30000), t0, true, mins, 1, out,
               present);
  EXPECT_EQ(out[wb], 500 + 27500);  // 1500 → 500, then + 27500
  state.Update(Total(Resource::kWritebps, 30000), t0, true, mins, 1, out,
               present);
  EXPECT_EQ(out[wb], 9000);  // capped at 10 m, minus m
}

TEST(RatesTest, PcpuFromCputimeTotalsOncePerRacctdPass) {
  RateState state;
  const absl::Time t0 = absl::UnixEpoch();
  rctl::UsageVector out{};
  platform::ResourceMask present;
  const std::size_t pc = rctl::Index(Resource::kPcpu);
  const std::size_t cpu = rctl::Index(Resource::kCputime);
  state.Update(Total(Resource::kCputime, 1000000), t0, false, kNoThrottle, 1,
               out, present);
  EXPECT_EQ(out[cpu], 1000000);
  EXPECT_EQ(out[pc], 0);
  EXPECT_TRUE(present[pc]);
  // A non-racctd tick does not move pcpu.
  state.Update(Total(Resource::kCputime, 1250000), t0 + absl::Milliseconds(500),
               false, kNoThrottle, 1, out, present);
  EXPECT_EQ(out[cpu], 1250000);
  EXPECT_EQ(out[pc], 0);
  state.Update(Total(Resource::kCputime, 1500000), t0 + absl::Seconds(1), true,
               kNoThrottle, 1, out, present);
  EXPECT_EQ(out[pc], 35009765);
  state.Update(Total(Resource::kCputime, 2000000), t0 + absl::Seconds(2), true,
               kNoThrottle, 1, out, present);
  EXPECT_EQ(out[pc], 45505857);
}

TEST(RatesTest, ReportedPcpuWinsOverDerived) {
  RateState state;
  platform::RawUsage raw = Total(Resource::kCputime, 5);
  raw.value[rctl::Index(Resource::kPcpu)] = 12345;
  raw.present[rctl::Index(Resource::kPcpu)] = true;
  rctl::UsageVector out{};
  platform::ResourceMask present;
  state.Update(raw, absl::UnixEpoch(), true, kNoThrottle, 1, out, present);
  EXPECT_EQ(out[rctl::Index(Resource::kPcpu)], 12345);
}

}  // namespace
}  // namespace jailwarden::racct
