// The threshold scan and stream sum kernels: every kernel this CPU runs
// gives exactly the portable kernel's answer (and the portable one the
// definition's), at the column counts, layouts and boundaries the engine
// uses.

#include "engine/threshold_scan.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace jailwarden::engine::internal {
namespace {

constexpr std::size_t kStride = 25;

std::vector<ScanKernel> Kernels() {
  std::vector<ScanKernel> out;
  for (ScanKernel k :
       {ScanKernel::kPortable, ScanKernel::kAvx2, ScanKernel::kAvx512}) {
    if (ScanKernelSupported(k)) {
      out.push_back(k);
    }
  }
  return out;
}

struct Table {
  std::vector<int64_t> usage;
  std::vector<int64_t> thresholds;
  std::vector<uint8_t> column;
  std::vector<uint32_t> force;
  std::size_t slots = 0;

  ThresholdColumns In() const {
    ThresholdColumns in;
    in.usage = usage.data();
    in.stride = kStride;
    in.slots = slots;
    in.thresholds = thresholds.data();
    in.k = column.size();
    in.column = column.data();
    in.force = force.data();
    return in;
  }
};

// The definition, written out.
std::vector<ScanHit> Expected(const Table& t) {
  std::vector<ScanHit> out;
  const std::size_t k = t.column.size();
  for (std::size_t s = 0; s < t.slots; ++s) {
    uint32_t m = t.force[s];
    for (std::size_t c = 0; c < k; ++c) {
      if (t.usage[s * kStride + t.column[c]] > t.thresholds[s * k + c]) {
        m |= 1u << c;
      }
    }
    if (m != 0) {
      out.push_back({static_cast<uint32_t>(s), m});
    }
  }
  return out;
}

std::vector<ScanHit> Scan(const Table& t, ScanKernel kernel) {
  std::vector<ScanHit> hits(t.slots);
  hits.resize(ScanThresholds(t.In(), hits.data(), kernel));
  return hits;
}

void ExpectSame(const std::vector<ScanHit>& want,
                const std::vector<ScanHit>& got, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].slot, want[i].slot) << what << " hit " << i;
    EXPECT_EQ(got[i].mask, want[i].mask) << what << " hit " << i;
  }
}

// Random tables around the thresholds: every column count 1..25, the
// identity layout (contiguous loads) and a scattered one (gathers), slot
// counts that leave every tail.
TEST(ThresholdScanTest, EveryKernelMatchesTheDefinition) {
  std::mt19937_64 rng(16);
  for (std::size_t k = 1; k <= kStride; ++k) {
    for (bool identity : {true, false}) {
      for (std::size_t slots : {1u, 3u, 64u, 301u}) {
        Table t;
        t.slots = slots;
        for (std::size_t c = 0; c < k; ++c) {
          // Scattered: every other resource from the end, wrapping.
          t.column.push_back(static_cast<uint8_t>(
              identity ? c : (kStride - 1 - (2 * c) % kStride)));
        }
        if (!identity) {
          std::sort(t.column.begin(), t.column.end());
          t.column.erase(std::unique(t.column.begin(), t.column.end()),
                         t.column.end());
        }
        const std::size_t kc = t.column.size();
        t.usage.resize(slots * kStride);
        t.thresholds.resize(slots * kc);
        t.force.assign(slots, 0);
        for (auto& u : t.usage) {
          u = static_cast<int64_t>(rng() % 2000);
        }
        for (std::size_t i = 0; i < t.thresholds.size(); ++i) {
          // Mostly above (the steady state), some equal (not over), some
          // one below (over), and the two sentinels.
          const std::size_t s = i / kc;
          const int64_t u = t.usage[s * kStride + t.column[i % kc]];
          switch (rng() % 8) {
            case 0:
              t.thresholds[i] = u;
              break;
            case 1:
              t.thresholds[i] = u - 1;
              break;
            case 2:
              t.thresholds[i] = std::numeric_limits<int64_t>::max();
              break;
            case 3:
              t.thresholds[i] = std::numeric_limits<int64_t>::min();
              break;
            default:
              t.thresholds[i] = u + 1 + static_cast<int64_t>(rng() % 1000);
              break;
          }
        }
        for (std::size_t s = 0; s < slots; s += 7) {
          t.force[s] = 1u << (rng() % kc);
        }
        const std::vector<ScanHit> want = Expected(t);
        for (ScanKernel kernel : Kernels()) {
          ExpectSame(want, Scan(t, kernel),
                     std::string(ScanKernelName(kernel)) + " k=" +
                         std::to_string(kc) + (identity ? " identity" : " scattered") +
                         " slots=" + std::to_string(slots));
        }
      }
    }
  }
}

TEST(ThresholdScanTest, UsageEqualToThresholdIsNotOver) {
  Table t;
  t.slots = 2;
  t.column = {4, 20};
  t.usage.assign(2 * kStride, 0);
  t.usage[4] = 100;
  t.usage[20] = 7;
  t.usage[kStride + 4] = 101;
  t.usage[kStride + 20] = 7;
  t.thresholds = {100, 7, 100, 6};
  t.force = {0, 0};
  for (ScanKernel kernel : Kernels()) {
    const std::vector<ScanHit> hits = Scan(t, kernel);
    ASSERT_EQ(hits.size(), 1u) << ScanKernelName(kernel);
    EXPECT_EQ(hits[0].slot, 1u);
    EXPECT_EQ(hits[0].mask, 0b11u);
  }
}

TEST(ThresholdScanTest, NoColumnsReportsOnlyForcedSlots) {
  Table t;
  t.slots = 3;
  t.usage.assign(3 * kStride, 5);
  t.force = {0, 4, 0};
  for (ScanKernel kernel : Kernels()) {
    const std::vector<ScanHit> hits = Scan(t, kernel);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].slot, 1u);
    EXPECT_EQ(hits[0].mask, 4u);
  }
}

TEST(ThresholdScanTest, BestKernelIsSupported) {
  EXPECT_TRUE(ScanKernelSupported(BestScanKernel()));
  EXPECT_TRUE(ScanKernelSupported(ScanKernel::kPortable));
}

TEST(SumValuesTest, EveryKernelSumsEveryLengthAndWraps) {
  std::mt19937_64 rng(25);
  std::vector<int64_t> v(1000);
  for (auto& x : v) {
    x = static_cast<int64_t>(rng());  // large: the sums wrap
  }
  for (std::size_t n = 0; n <= 100; ++n) {
    uint64_t want = 0;
    for (std::size_t i = 0; i < n; ++i) {
      want += static_cast<uint64_t>(v[i]);
    }
    for (ScanKernel kernel : Kernels()) {
      EXPECT_EQ(SumValues(v.data() + 1, n, kernel),
                static_cast<int64_t>(want + static_cast<uint64_t>(v[n]) -
                                     static_cast<uint64_t>(v[0])))
          << ScanKernelName(kernel) << " n=" << n;
    }
  }
}

}  // namespace
}  // namespace jailwarden::engine::internal
