#include "jailwarden/racct/history.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "jailwarden/racct/snapshot.h"

namespace jailwarden::racct {
namespace {

// A recorded series: the ticks as the sampler made them, kept whole so the
// expected peaks are computed the way Snapshot::history was read before it
// was compacted (a vector of the last `ticks` TickData).
class Series {
 public:
  explicit Series(uint32_t seed) : rng_(seed) {}

  std::shared_ptr<const JailTable> Table(std::vector<std::string> names) {
    auto t = std::make_shared<JailTable>();
    t->generation = ++generation_;
    for (std::string& n : names) {
      JailInfo j;
      j.name = std::move(n);
      t->jails.push_back(std::move(j));
    }
    t->Index();
    return t;
  }

  // A tick whose values move like usage does: most unchanged, some
  // counters growing, some jumping, and the int64 extremes.
  std::shared_ptr<TickData> Next(std::shared_ptr<const JailTable> table) {
    auto t = std::make_shared<TickData>();
    t->seq = ++seq_;
    t->jails = table;
    t->usage.resize(table->size());
    for (std::size_t s = 0; s < table->size(); ++s) {
      rctl::UsageVector& row = last_[table->jails[s].name];
      for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
        const uint32_t dice = rng_() % 100;
        if (dice < 60) {
          continue;
        } else if (dice < 85) {
          row[r] += static_cast<int64_t>(rng_() % 5000);
        } else if (dice < 97) {
          row[r] = static_cast<int64_t>(rng_()) - (1 << 30);
        } else if (dice < 98) {
          row[r] = std::numeric_limits<int64_t>::max();
        } else {
          row[r] = std::numeric_limits<int64_t>::min();
        }
      }
      t->usage[s] = row;
    }
    ticks_.push_back(t);
    return t;
  }

  // The old PeaksSince over the last `kept` ticks.
  std::vector<rctl::UsageVector> NaivePeaks(std::size_t kept, uint64_t since,
                                            const JailTable& table) const {
    rctl::UsageVector lowest;
    lowest.fill(std::numeric_limits<int64_t>::min());
    std::vector<rctl::UsageVector> peak(table.size(), lowest);
    const std::size_t from = ticks_.size() > kept ? ticks_.size() - kept : 0;
    for (std::size_t i = from; i < ticks_.size(); ++i) {
      const TickData& t = *ticks_[i];
      if (t.seq <= since) {
        continue;
      }
      for (std::size_t s = 0; s < t.usage.size(); ++s) {
        auto slot = table.Find(t.jails->jails[s].name);
        if (!slot) {
          continue;
        }
        for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
          peak[*slot][r] = std::max(peak[*slot][r], t.usage[s][r]);
        }
      }
    }
    return peak;
  }

  uint64_t seq() const { return seq_; }
  const std::vector<std::shared_ptr<const TickData>>& ticks() const { return ticks_; }

 private:
  std::mt19937 rng_;
  uint64_t seq_ = 0;
  uint64_t generation_ = 0;
  std::map<std::string, rctl::UsageVector> last_;
  std::vector<std::shared_ptr<const TickData>> ticks_;
};

Snapshot SnapshotOf(const std::shared_ptr<const TickData>& tick, const HistoryRecorder& rec) {
  Snapshot snap;
  snap.seq = tick->seq;
  snap.tick = tick;
  snap.history = rec.view();
  return snap;
}

TEST(HistoryTest, FullRateTicksDecodeToTheRecordedValues) {
  Series series(1);
  HistoryOptions o;
  o.ticks = 23;
  o.block_ticks = 4;
  o.full_ticks = 23;
  HistoryRecorder rec(o);
  auto table = series.Table({"a", "b", "c"});
  for (int i = 0; i < 50; ++i) {
    rec.Append(*series.Next(table));
  }
  std::vector<uint64_t> seqs;
  rec.view().ForEach(0, [&](const HistoryRun& run) {
    ASSERT_FALSE(run.coarse);
    const TickData& want = *series.ticks()[run.first_seq - 1];
    ASSERT_EQ(run.rows.size(), want.usage.size());
    for (std::size_t s = 0; s < run.rows.size(); ++s) {
      EXPECT_EQ(run.rows[s], want.usage[s]) << "seq " << run.first_seq << " slot " << s;
    }
    seqs.push_back(run.first_seq);
  });
  ASSERT_EQ(seqs.size(), 23u);
  EXPECT_EQ(seqs.front(), 28u);
  EXPECT_EQ(seqs.back(), 50u);
  EXPECT_EQ(rec.view().oldest_seq(), 28u);
  EXPECT_EQ(rec.view().ticks(), 23u);
}

// Every "peak since" the metrics scrape or an API reader can ask, on a
// recorded series with jail-table changes, equals what the uncompacted
// ring gave.
TEST(HistoryTest, PeaksEqualTheUncompactedRingAtFullRate) {
  Series series(7);
  HistoryOptions o;
  o.ticks = 31;
  o.block_ticks = 5;
  o.full_ticks = 31;
  HistoryRecorder rec(o);
  auto t1 = series.Table({"web", "db", "mail"});
  auto t2 = series.Table({"db", "mail", "new"});
  for (int i = 0; i < 120; ++i) {
    auto tick = series.Next(i < 47 || i >= 90 ? t1 : t2);
    rec.Append(*tick);
    const Snapshot snap = SnapshotOf(tick, rec);
    for (uint64_t since = 0; since < snap.seq; ++since) {
      const Peaks p = PeaksSince(snap, since);
      EXPECT_EQ(p.peak, series.NaivePeaks(31, since, *tick->jails))
          << "tick " << snap.seq << " since " << since;
      EXPECT_EQ(p.complete, snap.seq <= 31 || since + 1 >= snap.seq - 30);
    }
  }
}

// Each coarse row (several to a delta-coded coarse block) is exactly the
// per-slot maxima of the ticks it names, its stretches follow each other
// without gaps or overlaps up to the full-rate ticks, and a jail-table
// change starts new rows: checked after every tick, so rows are seen
// while being merged, appended, copied into new blocks and expired.
TEST(HistoryTest, CoarseRowsAreTheExactMaximaOfTheirTicks) {
  Series series(23);
  HistoryOptions o;
  o.ticks = 300;
  o.block_ticks = 5;
  o.full_ticks = 20;
  o.max_coarse_blocks = 64;  // 56 coarse blocks of one full block each
  HistoryRecorder rec(o);
  auto t1 = series.Table({"a", "b", "c"});
  auto t2 = series.Table({"b", "c", "d", "e"});
  for (int i = 0; i < 700; ++i) {
    auto tick = series.Next(i < 260 || i >= 420 ? t1 : t2);
    rec.Append(*tick);
    uint64_t next = 0;  // the seq the next run must start at
    std::size_t coarse_rows = 0;
    rec.view().ForEach(0, [&](const HistoryRun& run) {
      if (next != 0) {
        ASSERT_EQ(run.first_seq, next) << "tick " << tick->seq;
      }
      next = run.last_seq + 1;
      if (!run.coarse) {
        return;
      }
      ++coarse_rows;
      for (std::size_t s = 0; s < run.jails->size(); ++s) {
        rctl::UsageVector want;
        want.fill(std::numeric_limits<int64_t>::min());
        for (uint64_t q = run.first_seq; q <= run.last_seq; ++q) {
          const TickData& t = *series.ticks()[q - 1];
          ASSERT_EQ(t.jails.get(), run.jails) << "a row spans one table";
          for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
            want[r] = std::max(want[r], t.usage[s][r]);
          }
        }
        ASSERT_EQ(run.rows[s], want) << "tick " << tick->seq << " row " << run.first_seq
                                     << ".." << run.last_seq << " slot " << s;
      }
    });
    EXPECT_EQ(next, tick->seq + 1);
    EXPECT_LE(coarse_rows, 64u);
    EXPECT_EQ(rec.view().oldest_seq(), tick->seq > 300 ? tick->seq - 299 : 1);
  }
}

// Beyond the full-rate window the maxima are per block: never below the
// exact peak, and no higher than the exact peak from the start of the block
// holding since_seq + 1.
TEST(HistoryTest, CoarseTierBoundsThePeakByOneBlock) {
  Series series(11);
  HistoryOptions o;
  o.ticks = 200;
  o.block_ticks = 5;
  o.full_ticks = 20;
  o.max_coarse_blocks = 6;
  HistoryRecorder rec(o);
  auto table = series.Table({"a", "b"});
  for (int i = 0; i < 400; ++i) {
    auto tick = series.Next(table);
    rec.Append(*tick);
    const Snapshot snap = SnapshotOf(tick, rec);
    std::size_t coarse = 0;
    snap.history.ForEach(0, [&](const HistoryRun& run) { coarse += run.coarse ? 1 : 0; });
    EXPECT_LE(coarse, 7u);
    for (uint64_t since = snap.seq > 200 ? snap.seq - 200 : 0; since < snap.seq; since += 3) {
      const Peaks p = PeaksSince(snap, since);
      const auto exact = series.NaivePeaks(200, since, *table);
      if (since + 20 >= snap.seq) {
        EXPECT_EQ(p.peak, exact) << "within the full-rate window, tick " << snap.seq;
        continue;
      }
      // Coarse groups hold up to ceil(180 / 5 / 6) = 6 blocks of 5 ticks.
      const uint64_t widened = since >= 30 ? since - 30 : 0;
      const auto upper = series.NaivePeaks(230, widened, *table);
      for (std::size_t s = 0; s < table->size(); ++s) {
        for (std::size_t r = 0; r < rctl::kResourceCount; ++r) {
          EXPECT_GE(p.peak[s][r], exact[s][r]);
          EXPECT_LE(p.peak[s][r], upper[s][r]);
        }
      }
    }
  }
}

// The daemon's defaults (10 Hz, 60 s, 10 s at full rate, 1 s blocks) for
// 1,000 quiet jails: a few KB per jail instead of 601 × 237 bytes.
TEST(HistoryTest, MemoryPerQuietJailIsBounded) {
  HistoryOptions o;
  o.ticks = 601;
  o.block_ticks = 10;
  o.full_ticks = 100;
  o.max_coarse_blocks = 64;
  HistoryRecorder rec(o);
  auto table = std::make_shared<JailTable>();
  table->jails.resize(1000);
  TickData tick;
  tick.jails = table;
  tick.usage.assign(1000, rctl::UsageVector{});
  for (std::size_t s = 0; s < 1000; ++s) {
    tick.usage[s].fill(1 << 20);  // memory and the like: steady
  }
  for (uint64_t seq = 1; seq <= 1200; ++seq) {
    tick.seq = seq;
    for (std::size_t s = 0; s < 1000; ++s) {
      tick.usage[s][rctl::Index(rctl::Resource::kCputime)] += 300;    // µs per tick
      tick.usage[s][rctl::Index(rctl::Resource::kWallclock)] = static_cast<int64_t>(seq) * 100000;
      tick.usage[s][rctl::Index(rctl::Resource::kPcpu)] = 3000 + static_cast<int64_t>(seq % 7);
    }
    rec.Append(tick);
  }
  const std::size_t per_jail = rec.view().bytes() / 1000;
  EXPECT_LT(per_jail, 10u * 1024) << per_jail << " bytes per jail";
  EXPECT_EQ(rec.view().ticks(), 601u);
  RecordProperty("history_bytes_per_jail", static_cast<int>(per_jail));
}

// A published view stays readable and unchanged while the recorder goes on
// (the sampler thread appends while scrapes read older snapshots).
TEST(HistoryTest, OldViewsAreUnaffectedByLaterAppends) {
  Series series(3);
  HistoryOptions o;
  o.ticks = 12;
  o.block_ticks = 3;
  o.full_ticks = 12;
  HistoryRecorder rec(o);
  auto table = series.Table({"x"});
  for (int i = 0; i < 10; ++i) {
    rec.Append(*series.Next(table));
  }
  const HistoryView old = rec.view();
  std::vector<rctl::UsageVector> before;
  old.ForEach(0, [&](const HistoryRun& run) { before.push_back(run.rows[0]); });
  for (int i = 0; i < 100; ++i) {
    rec.Append(*series.Next(table));
  }
  std::vector<rctl::UsageVector> after;
  old.ForEach(0, [&](const HistoryRun& run) { after.push_back(run.rows[0]); });
  EXPECT_EQ(before, after);
  ASSERT_EQ(after.size(), 10u);
  EXPECT_EQ(after.back(), series.ticks()[9]->usage[0]);
}

}  // namespace
}  // namespace jailwarden::racct
