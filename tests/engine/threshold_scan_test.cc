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

// Usage rows and per-slot threshold rows, packed into shared patterns the
// way the engine packs them.
struct Table {
  std::vector<int64_t> usage;
  std::vector<int64_t> rows;  // slots × 25, the thresholds
  std::vector<uint32_t> force;
  std::size_t slots = 0;
  std::vector<ThresholdPattern> patterns;
  std::vector<uint32_t> block_pattern;
  uint32_t live = 0;

  explicit Table(std::size_t n)
      : usage(n * kRowValues, 0),
        rows(n * kRowValues, std::numeric_limits<int64_t>::max()),
        force(n, 0),
        slots(n) {}

  // Packs `rows`: one pattern per block, identical blocks shared.
  void Pack() {
    patterns.clear();
    block_pattern.clear();
    for (std::size_t first = 0; first < slots; first += kBlockSlots) {
      ThresholdPattern p;
      std::fill(std::begin(p.v), std::end(p.v),
                std::numeric_limits<int64_t>::max());
      for (std::size_t i = 0; i < kBlockSlots && first + i < slots; ++i) {
        std::copy_n(rows.begin() + static_cast<std::ptrdiff_t>((first + i) * kRowValues),
                    kRowValues, p.v + i * kRowValues);
      }
      uint32_t at = static_cast<uint32_t>(patterns.size());
      for (uint32_t q = 0; q < patterns.size(); ++q) {
        if (std::equal(std::begin(p.v), std::end(p.v), patterns[q].v)) {
          at = q;
        }
      }
      if (at == patterns.size()) {
        patterns.push_back(p);
      }
      block_pattern.push_back(at);
    }
    live = LiveVectors(patterns.data(), patterns.size());
  }

  ThresholdBlocks In() const {
    ThresholdBlocks in;
    in.usage = usage.data();
    in.slots = slots;
    in.patterns = patterns.data();
    in.block_pattern = block_pattern.data();
    in.force = force.data();
    in.live = live;
    return in;
  }
};

// The definition, written out.
std::vector<ScanHit> Expected(const Table& t) {
  std::vector<ScanHit> out;
  for (std::size_t s = 0; s < t.slots; ++s) {
    uint32_t m = t.force[s];
    for (std::size_t r = 0; r < kRowValues; ++r) {
      if (t.usage[s * kRowValues + r] > t.rows[s * kRowValues + r]) {
        m |= 1u << r;
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

// Random tables around the thresholds: slot counts that leave every
// partial block, few and many resources with rules, shared and distinct
// patterns, every resource position over alone, forced slots.
TEST(ThresholdScanTest, EveryKernelMatchesTheDefinition) {
  std::mt19937_64 rng(16);
  for (std::size_t slots : {0u, 1u, 7u, 8u, 9u, 64u, 301u}) {
    for (std::size_t ruled : {1u, 8u, 25u}) {
      for (bool shared : {true, false}) {
        Table t(slots);
        std::vector<int64_t> proto(kRowValues, std::numeric_limits<int64_t>::max());
        for (std::size_t r = 0; r < ruled; ++r) {
          proto[(r * 7 + 3) % kRowValues] = 1000 + static_cast<int64_t>(r);
        }
        for (std::size_t s = 0; s < slots; ++s) {
          for (std::size_t r = 0; r < kRowValues; ++r) {
            int64_t th = proto[r];
            if (!shared && th != std::numeric_limits<int64_t>::max()) {
              th += static_cast<int64_t>(rng() % 50);
            }
            t.rows[s * kRowValues + r] = th;
            const int64_t base =
                th == std::numeric_limits<int64_t>::max() ? 1000 : th;
            // Mostly under; sometimes equal (not over) or one above.
            switch (rng() % 16) {
              case 0:
                t.usage[s * kRowValues + r] = base;
                break;
              case 1:
                t.usage[s * kRowValues + r] = base + 1;
                break;
              default:
                t.usage[s * kRowValues + r] = base - 1 - static_cast<int64_t>(rng() % 900);
                break;
            }
          }
          if (rng() % 11 == 0) {
            t.force[s] = 1u << (rng() % kRowValues);
          }
        }
        t.Pack();
        const std::vector<ScanHit> want = Expected(t);
        for (ScanKernel kernel : Kernels()) {
          ExpectSame(want, Scan(t, kernel),
                     std::string(ScanKernelName(kernel)) + " slots=" +
                         std::to_string(slots) + " ruled=" + std::to_string(ruled) +
                         (shared ? " shared" : " distinct"));
        }
      }
    }
  }
}

// Each resource position of each slot of a block, over alone by one: the
// mask names exactly it (no lane lost at a vector boundary).
TEST(ThresholdScanTest, EveryPositionOverAloneIsFound) {
  Table t(kBlockSlots * 2 + 3);
  std::fill(t.rows.begin(), t.rows.end(), 100);
  std::fill(t.usage.begin(), t.usage.end(), 100);  // equal: not over
  t.Pack();
  for (ScanKernel kernel : Kernels()) {
    EXPECT_TRUE(Scan(t, kernel).empty()) << ScanKernelName(kernel);
    for (std::size_t s = 0; s < t.slots; ++s) {
      for (std::size_t r = 0; r < kRowValues; ++r) {
        t.usage[s * kRowValues + r] = 101;
        const std::vector<ScanHit> hits = Scan(t, kernel);
        ASSERT_EQ(hits.size(), 1u) << ScanKernelName(kernel) << " " << s << "/" << r;
        EXPECT_EQ(hits[0].slot, s);
        EXPECT_EQ(hits[0].mask, 1u << r);
        t.usage[s * kRowValues + r] = 100;
      }
    }
  }
}

// The live mask names exactly the pattern vectors with a threshold; a scan
// told that every vector is live finds the same slots.
TEST(ThresholdScanTest, LiveVectorsSkipOnlyVectorsThatCannotBeOver) {
  Table t(kBlockSlots * 3);
  for (std::size_t s = 0; s < t.slots; ++s) {
    t.rows[s * kRowValues + 4] = 10;  // memoryuse only: 8 of 25 vectors
    t.usage[s * kRowValues + 4] = s % 5 == 0 ? 11 : 10;
    t.usage[s * kRowValues + 9] = 1 << 30;  // no rule: never over
  }
  t.Pack();
  uint32_t want = 0;
  for (std::size_t i = 0; i < kBlockSlots; ++i) {
    want |= 1u << ((i * kRowValues + 4) / 8);
  }
  EXPECT_EQ(t.live, want);
  const std::vector<ScanHit> expected = Expected(t);
  ASSERT_EQ(expected.size(), 5u);
  for (ScanKernel kernel : Kernels()) {
    ExpectSame(expected, Scan(t, kernel), std::string(ScanKernelName(kernel)));
    t.live = (1u << (kPatternValues / 8)) - 1;
    ExpectSame(expected, Scan(t, kernel),
               std::string(ScanKernelName(kernel)) + " all live");
    t.Pack();
  }
}

TEST(ThresholdScanTest, ForcedSlotIsReportedWithNothingOver) {
  Table t(kBlockSlots + 1);
  t.force[3] = 1u << 20;
  t.force[8] = 1u << 4;
  t.Pack();
  for (ScanKernel kernel : Kernels()) {
    const std::vector<ScanHit> hits = Scan(t, kernel);
    ASSERT_EQ(hits.size(), 2u) << ScanKernelName(kernel);
    EXPECT_EQ(hits[0].slot, 3u);
    EXPECT_EQ(hits[0].mask, 1u << 20);
    EXPECT_EQ(hits[1].slot, 8u);
    EXPECT_EQ(hits[1].mask, 1u << 4);
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
